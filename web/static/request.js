// Live slug check on the request form. The form works without it; this only adds a hint.
(function () {
  var input = document.getElementById("slug");
  var out = document.getElementById("slug-status");
  if (!input || !out) return;
  var timer;
  input.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(function () {
      var slug = input.value.trim();
      if (!slug) { out.textContent = ""; return; }
      fetch("/portal/api/slug?slug=" + encodeURIComponent(slug), { credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (j) { out.textContent = j.problem ? j.problem : "/" + slug + "/ is available"; })
        .catch(function () { out.textContent = ""; });
    }, 300);
  });
})();
