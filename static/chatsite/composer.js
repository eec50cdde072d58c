// The composer's settings and sending while offline.
// - The chips beside the model picker ([data-settings-summary]) say what is on; they are redrawn
//   from each field's `data-chip` words (forms.py) as fields change.
// - Choosing an agent marks the settings it ignores ("Not used by agents").
// - An error inside "Advanced" opens it, so the message beside its field is seen.
// - Offline, a message stays in the box with a note and goes when the browser is back online.
// Saving a change on a conversation is htmx's (hx-post on change, conversation.html).
(function () {
  "use strict";

  function composer() { return document.getElementById("composer"); }

  function ignoredBy(model) {
    var data = document.getElementById("agent-ignores");
    if (!data) return [];
    try { return JSON.parse(data.textContent)[model] || []; } catch (err) { return []; }
  }

  function chipWords(template, label) {
    return template.split("{}").join(label).split("{l}").join(label.toLowerCase());
  }

  // What a field says in the summary, or null when it is off.
  function chipOf(field) {
    var template = field.dataset.chip;
    if (field.type === "checkbox") return field.checked ? template : null;
    if (field.tagName === "SELECT") {
      var option = field.options[field.selectedIndex];
      return field.value && option ? chipWords(template, option.text) : null;
    }
    var value = field.value.trim();
    return value ? chipWords(template, value) : null;
  }

  function redraw(form) {
    var summary = form.querySelector("[data-settings-summary]");
    if (!summary) return;
    var model = form.querySelector("select[name=model]");
    var ignored = ignoredBy(model ? model.value : "");
    var chips = [];
    form.querySelectorAll("#composer-settings [data-chip]").forEach(function (field) {
      var words = chipOf(field);
      if (words === null) return;
      var chip = document.createElement("li");
      chip.className = "chip";
      chip.dataset.field = field.name;
      chip.textContent = words; // typed values are text, never HTML
      if (ignored.indexOf(field.name) >= 0) {
        chip.classList.add("is-ignored");
        chip.title = chatsiteText("Not used by agents");
      }
      chips.push(chip);
    });
    summary.replaceChildren.apply(summary, chips);
    form.querySelectorAll("[data-setting]").forEach(function (setting) {
      var note = setting.querySelector("[data-ignored-note]");
      if (note) note.hidden = ignored.indexOf(setting.dataset.setting) < 0;
    });
  }

  function onFieldChange(e) {
    var form = e.target.closest && e.target.closest("#composer");
    if (!form || !(e.target.dataset.chip !== undefined || e.target.name === "model")) return;
    redraw(form);
  }
  document.addEventListener("change", onFieldChange);
  document.addEventListener("input", onFieldChange);

  // An error beside a field that is tucked away under "Advanced": open it.
  document.addEventListener("htmx:oobAfterSwap", function (e) {
    var el = e.target;
    if (!el.classList || !el.classList.contains("field-error") || !el.textContent.trim()) return;
    var details = el.closest("details");
    if (details) details.open = true;
    var panel = document.getElementById("composer-settings");
    var toggle = document.querySelector(".settings-toggle");
    if (panel && panel.hidden && toggle) toggle.click();
  });

  // -- offline ----------------------------------------------------------------------------
  var waiting = false;
  function note() { var form = composer(); return form && form.querySelector("[data-offline-note]"); }
  function holdUntilOnline() {
    waiting = true;
    var el = note();
    if (el) el.hidden = false;
  }
  function sendHeld() {
    if (!waiting) return;
    var form = composer();
    waiting = false;
    var el = note();
    if (el) el.hidden = true;
    if (form) form.requestSubmit();
  }

  document.addEventListener("htmx:beforeRequest", function (e) {
    if (e.detail.elt !== composer() || navigator.onLine !== false) return;
    e.preventDefault(); // the text stays in the box
    holdUntilOnline();
  });
  // The browser thought it was online, but the request never got an answer.
  document.addEventListener("htmx:sendError", function (e) {
    if (e.detail.elt !== composer()) return;
    holdUntilOnline();
    if (navigator.onLine !== false) setTimeout(sendHeld, 5000);
  });
  window.addEventListener("online", sendHeld);
  document.addEventListener("htmx:afterRequest", function (e) {
    var el = note();
    if (e.detail.elt === composer() && e.detail.successful && el) el.hidden = true;
  });
})();
