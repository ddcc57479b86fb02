/* Progressive enhancement for the signup and manage forms. Everything works without it except
   the live preview. */
(function () {
  "use strict";

  // Time zone from the browser on a fresh signup form (the server marks it data-prefill).
  var tz = document.querySelector("input[data-prefill='browser']");
  if (tz) {
    try {
      var guess = Intl.DateTimeFormat().resolvedOptions().timeZone;
      if (guess) tz.value = guess;
    } catch (e) { /* an old browser: UTC stays */ }
  }

  // After a failed submit, take keyboard and screen-reader users to the first field to fix.
  var invalid = document.querySelector("[aria-invalid='true']");
  if (invalid) invalid.focus();

  // The weekday matters only for a weekly digest.
  var weekday = document.querySelector("[data-weekday]");
  var cadence = document.querySelectorAll("input[name='cadence']");
  function syncWeekday() {
    var checked = document.querySelector("input[name='cadence']:checked");
    if (weekday) weekday.hidden = !checked || checked.value !== "weekly";
  }
  cadence.forEach(function (radio) { radio.addEventListener("change", syncWeekday); });
  syncWeekday();

  // Live preview of the topic on the line under the caret.
  var panel = document.getElementById("preview");
  if (!panel || !window.fetch) return;
  var field = document.getElementById(panel.dataset.for);
  var body = document.getElementById("preview-body");
  var url = panel.dataset.previewUrl;
  var timer = null;
  var last = null;
  var inflight = null;
  panel.hidden = false;

  function currentLine() {
    var text = field.value;
    var at = field.selectionStart == null ? text.length : field.selectionStart;
    var start = text.lastIndexOf("\n", at - 1) + 1;
    var end = text.indexOf("\n", at);
    var line = text.slice(start, end === -1 ? text.length : end).trim();
    if (!line) {
      // Caret on an empty line: preview the last topic typed.
      var lines = text.split("\n").map(function (l) { return l.trim(); }).filter(Boolean);
      line = lines.length ? lines[lines.length - 1] : "";
    }
    return line;
  }

  function refresh() {
    var q = currentLine();
    if (q === last) return;
    last = q;
    if (inflight) inflight.abort();
    inflight = window.AbortController ? new AbortController() : null;
    panel.setAttribute("aria-busy", "true");
    fetch(url + "?q=" + encodeURIComponent(q), {
      headers: { "X-Requested-With": "fetch" },
      credentials: "same-origin",
      signal: inflight ? inflight.signal : undefined,
    })
      .then(function (response) { return response.text(); })
      .then(function (html) {
        // The fragment is rendered and escaped by the server (templates/web/.../_preview.html).
        body.innerHTML = html;
        panel.removeAttribute("aria-busy");
      })
      .catch(function (error) {
        if (error && error.name === "AbortError") return;
        panel.removeAttribute("aria-busy");
        body.innerHTML = "";
        var p = document.createElement("p");
        p.className = "preview-error";
        p.textContent = "The preview is unavailable right now; your topics are still checked when you submit.";
        body.appendChild(p);
        last = null;
      });
  }

  function schedule() {
    window.clearTimeout(timer);
    timer = window.setTimeout(refresh, 300);
  }
  ["input", "keyup", "click", "focus"].forEach(function (name) {
    field.addEventListener(name, schedule);
  });
  // After a refused topic, the caret (and so the preview) starts on the first bad line.
  var errorLine = parseInt(field.dataset.errorLine || "", 10);
  if (errorLine > 0) {
    var before = field.value.split("\n").slice(0, errorLine - 1).join("\n");
    var at = errorLine > 1 ? before.length + 1 : 0;
    field.setSelectionRange(at, at);
  }
  if (field.value.trim()) refresh();
})();

/* Starter picks on the signup form: the Recommended section the ticked papers would bring. */
(function () {
  "use strict";
  var group = document.getElementById("starter");
  var panel = document.getElementById("starter-preview");
  if (!group || !panel || !window.fetch) return;
  var body = document.getElementById("starter-preview-body");
  var boxes = group.querySelectorAll("input[name='starter']");
  var url = group.dataset.previewUrl;
  var timer = null;
  panel.hidden = false;

  function refresh() {
    var query = [];
    boxes.forEach(function (box) {
      if (box.checked) query.push("like=" + encodeURIComponent(box.value));
    });
    panel.setAttribute("aria-busy", "true");
    fetch(url + "?" + query.join("&"), {
      headers: { "X-Requested-With": "fetch" },
      credentials: "same-origin",
    })
      .then(function (response) { return response.text(); })
      .then(function (html) {
        // Rendered and escaped by the server (templates/web/.../_starter_preview.html).
        body.innerHTML = html;
        panel.removeAttribute("aria-busy");
      })
      .catch(function () { panel.removeAttribute("aria-busy"); });
  }

  boxes.forEach(function (box) {
    box.addEventListener("change", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(refresh, 200);
    });
  });
  if (group.querySelector("input[name='starter']:checked")) refresh();
})();
