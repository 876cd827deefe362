// Live deploy progress (server-sent events). Without JavaScript the deploying forms (approve,
// redeploy, restore) post as usual and the project's page shows how the deploy went.
(function () {
  // The page's language's words (progress_strings.html), English when missing.
  var words = document.getElementById("progress-strings");
  function msg(name, fallback) { return (words && words.getAttribute("data-" + name)) || fallback; }
  function line(list, text, cls) {
    var li = document.createElement("li");
    li.textContent = text;
    if (cls) li.className = cls;
    list.appendChild(li);
    return li;
  }

  // Adds each step newer than the list's data-seq; calls onReady once listening and onLast
  // after the deploy's last step (or when the stream breaks).
  function follow(url, list, onReady, onLast) {
    var seen = Number(list.getAttribute("data-seq") || 0);
    var source = new EventSource(url);
    var ended = false;
    function end() {
      if (ended) return;
      ended = true;
      source.close();
      if (onLast) onLast();
    }
    source.addEventListener("ready", function () {
      if (onReady) { var f = onReady; onReady = null; f(); }
    });
    source.addEventListener("progress", function (e) {
      var step = JSON.parse(e.data);
      if (step.seq <= seen) return;
      seen = step.seq;
      list.setAttribute("data-seq", String(seen));
      var cls = step.step === "failed" ? "error" : step.step === "running" ? "ok" : "";
      line(list, step.text, cls);
      if (step.step === "running" || step.step === "failed") end();
    });
    // The server ends the stream after the last step; never let the browser reconnect.
    source.onerror = end;
    return end;
  }

  // A page showing a deploy under way follows it.
  document.querySelectorAll("ol[data-follow]").forEach(function (list) {
    follow(list.getAttribute("data-follow"), list);
  });

  // Deploying forms: listen first, then post through the JSON API, and show every step.
  document.querySelectorAll("form[data-progress]").forEach(function (form) {
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var button = form.querySelector("button[type=submit]");
      button.disabled = true;
      var list = document.createElement("ol");
      list.className = "progress";
      list.setAttribute("aria-live", "polite");
      form.parentNode.insertBefore(list, form.nextSibling);
      list.scrollIntoView({ block: "nearest" });
      var csrf = "";
      var body = {};
      new FormData(form).forEach(function (value, key) {
        if (key === "csrf") csrf = value; else if (value !== "") body[key] = value;
      });
      var url = form.getAttribute("data-progress");
      var page = url.replace(/\/progress$/, "");
      var outcome = null;
      var streamOver = false;
      var shown = false;
      // Once both the post has answered and the steps have ended.
      function finish() {
        if (shown || !outcome || !streamOver) return;
        shown = true;
        if (outcome.error) {
          line(list, outcome.error, "error");
          button.disabled = false;
          return;
        }
        // The request is decided: the card's other decisions (reject, send back) no longer
        // apply, and the approve button stays disabled.
        var card = form.closest(".card");
        if (card) {
          card.querySelectorAll("form").forEach(function (other) {
            if (other !== form) other.remove();
          });
        }
        var a = document.createElement("a");
        a.href = page;
        var state = msg("state-" + outcome.state, outcome.state);
        a.textContent = msg("now", "The project is now %state%: open its page").replace("%state%", state);
        line(list, "").appendChild(a);
      }
      var stop = follow(url + "?next=1", list, function () {
        fetch(form.getAttribute("data-api"), {
          method: "POST",
          credentials: "same-origin",
          headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
          body: JSON.stringify(body)
        }).then(function (res) {
          return res.json().then(function (json) {
            outcome = res.ok ? { state: json.state } : { error: json.error || res.statusText };
          });
        }).catch(function () {
          outcome = { error: msg("post-failed", "The request failed; reload the page to see the project's state.") };
        }).then(function () {
          // Refused before any deploy started: no steps will come.
          if (outcome.error) stop();
          finish();
        });
      }, function () {
        streamOver = true;
        finish();
      });
    });
  });
})();
