// Live container logs (server-sent events). Without JavaScript the download link still works.
(function () {
  var MAX_LINES = 1000;
  document.querySelectorAll("button[data-logs]").forEach(function (button) {
    button.hidden = false;
    var pre = button.parentElement.nextElementSibling;
    var source = null;
    button.addEventListener("click", function () {
      if (source) { source.close(); source = null; button.textContent = "Show live logs"; return; }
      pre.hidden = false;
      pre.textContent = "";
      source = new EventSource(button.getAttribute("data-logs"));
      button.textContent = "Stop live logs";
      source.addEventListener("log", function (e) {
        var lines = (pre.textContent + e.data + "\n").split("\n");
        pre.textContent = lines.slice(Math.max(0, lines.length - MAX_LINES)).join("\n");
      });
      source.onerror = function () { source.close(); source = null; button.textContent = "Show live logs"; };
    });
  });
})();
