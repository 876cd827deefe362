// The request form's live helpers. The form works without them (every field is shown, "Check"
// asks the server); this script only shows the chosen stack's fields, checks the slug as it is
// typed and shows the checker's verdict as the request changes.
(function () {
  var base = document.body.getAttribute("data-base") || "";
  var form = document.getElementById("request-form");
  if (!form) return;
  var csrf = form.querySelector("input[name=csrf]").value;
  // The page's language's words, from the template (data-msg-*), English when missing.
  function msg(name, fallback) { return form.getAttribute("data-msg-" + name) || fallback; }

  // Only the chosen stack's fields are shown.
  function chosen() {
    var r = form.querySelector("input[name=template]:checked");
    return r ? r.value : "";
  }
  function showChosen() {
    var name = chosen();
    form.querySelectorAll("fieldset.vars").forEach(function (fs) {
      fs.hidden = fs.getAttribute("data-template") !== name;
    });
  }
  form.querySelectorAll("input[name=template]").forEach(function (r) {
    r.addEventListener("change", showChosen);
  });
  showChosen();

  // The slug: format, reserved names, availability, judged next to the field and only once the
  // member has typed in it (never before the field is touched).
  var slug = document.getElementById("slug");
  var slugOut = document.getElementById("slug-status");
  var slugTimer;
  if (slug && slugOut) {
    slug.addEventListener("input", function () {
      clearTimeout(slugTimer);
      slugTimer = setTimeout(function () {
        var s = slug.value.trim();
        function show(cls, text) { slugOut.className = "field-status " + cls; slugOut.textContent = text; }
        if (!s) { show("error", msg("slug-empty", "Slug: choose the address your project will have.")); return; }
        fetch(base + "/api/slug?slug=" + encodeURIComponent(s), { credentials: "same-origin" })
          .then(function (r) { return r.json(); })
          .then(function (j) {
            if (j.problem) show("error", j.problem);
            else show("ok", msg("slug-available", "The address /%slug%/ is available.").replace("%slug%", s));
          })
          .catch(function () { show("", ""); });
      }, 300);
    });
  }

  // The checker's verdict on the request's stack as it stands (nothing is stored), shown right
  // below the stack; the slug has its own line next to its field.
  var card = document.getElementById("verdict-card");
  var out = document.getElementById("verdict-body");
  var checkUrl = form.getAttribute("data-check");
  var checkTimer;
  // Answers can arrive out of order: only the latest request's is shown.
  var asked = 0;
  function line(cls, text) {
    var el = document.createElement(cls === "error" ? "pre" : "p");
    el.className = cls;
    el.textContent = text;
    out.appendChild(el);
  }
  function body(stackText) {
    var name = chosen();
    var b = { template: name, variables: {} };
    ["name", "slug", "description", "source_url"].forEach(function (f) {
      var el = form.elements[f];
      if (el) b[f] = el.value;
    });
    var days = parseInt(form.elements.days.value, 10);
    if (days > 0) b.days = days;
    if (name) {
      var prefix = "var-" + name + "-";
      Array.prototype.forEach.call(form.elements, function (el) {
        if (el.name && el.name.indexOf(prefix) === 0) b.variables[el.name.slice(prefix.length)] = el.value;
      });
    } else {
      b.stack = stackText;
    }
    return b;
  }
  function check() {
    var mine = ++asked;
    var file = form.elements.stack_file && form.elements.stack_file.files[0];
    var text = file && !chosen() ? file.text() : Promise.resolve(form.elements.stack.value);
    text.then(function (stackText) {
      return fetch(checkUrl, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
        body: JSON.stringify(body(stackText))
      });
    }).then(function (r) { return r.json(); }).then(function (v) {
      if (mine !== asked) return;
      out.textContent = "";
      card.hidden = false;
      if (v.error) { line("error", v.error); return; }
      line(v.stack_problem ? "error" : "ok", v.stack_problem || v.stack_ok || "Stack: accepted.");
      (v.warnings || []).forEach(function (w) { line("warning", w); });
      if (v.normalized) {
        var d = document.createElement("details");
        var s = document.createElement("summary");
        s.textContent = msg("deployed", "What would be deployed");
        var pre = document.createElement("pre");
        pre.className = "readable";
        pre.textContent = v.normalized;
        d.appendChild(s);
        d.appendChild(pre);
        out.appendChild(d);
      }
    }).catch(function () {});
  }
  function later() { clearTimeout(checkTimer); checkTimer = setTimeout(check, 600); }
  form.addEventListener("input", later);
  form.addEventListener("change", later);
})();
