// The composer's settings and sending while offline.
// - The chips beside the model picker ([data-settings-summary]) say what is on; they are redrawn
//   from each field's `data-chip` words (forms.py) as fields change.
// - Choosing an agent marks the settings it ignores ("Not used by agents").
// - An error inside "Advanced" opens it, so the message beside its field is seen.
// - Offline, a message stays in the box with a note and goes when the browser is back online.
// - A message of words only goes on the page's socket; anything else is POSTed (below).
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

  // An error beside a field: shown, even when tucked away under "Advanced" or scrolled out.
  document.addEventListener("htmx:oobAfterSwap", function (e) {
    var el = e.target;
    if (!el.classList || !el.classList.contains("field-error") || !el.textContent.trim()) return;
    var details = el.closest("details");
    if (details) details.open = true;
    var panel = document.getElementById("composer-settings");
    var toggle = document.querySelector(".settings-toggle");
    if (panel && panel.hidden && toggle) toggle.click();
    el.scrollIntoView({ block: "nearest" }); // the panel scrolls: the message may be below it
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
    var form = composer();
    if (e.detail.elt !== form) return;
    if (navigator.onLine === false) {
      e.preventDefault(); // the text stays in the box
      holdUntilOnline();
    } else if (sending) {
      e.preventDefault(); // the last one has not been answered yet
    } else if (mayUseSocket(form)) {
      e.preventDefault();
      sendOnSocket(form);
    }
  });
  // A message that got no answer stays and goes again: in a few seconds, or when the
  // browser is back online.
  function retryLater() {
    holdUntilOnline();
    if (navigator.onLine !== false) setTimeout(sendHeld, 5000);
  }
  // The browser thought it was online, but the request never got an answer.
  document.addEventListener("htmx:sendError", function (e) {
    if (e.detail.elt === composer()) retryLater();
  });
  window.addEventListener("online", sendHeld);

  // -- sending on the socket --------------------------------------------------------------
  // A message of words only goes on the conversation's socket when it is open and the
  // settings are saved: its request then leaves without a page request's work (issue 16).
  // Files, "In background", a settings change not saved yet, or no socket: the form is
  // POSTed as written. The words stay in the box until the server says it saved them.
  var socket = null, sending = null, sent = 0, edits = 0, saved = 0;

  // The socket is the one on the page's <main>, for the conversation it shows (a page swapped
  // for another conversation's has a socket of its own, opened anew).
  document.addEventListener("htmx:wsOpen", function (e) {
    socket = { wrapper: e.detail.socketWrapper, elt: e.target, conversation: e.target.dataset.conversation };
  });
  document.addEventListener("htmx:wsClose", function (e) {
    if (!socket || e.detail.socketWrapper !== socket.wrapper) return;
    socket = null;
    if (sending) noAnswer();
  });

  function isSetting(el) {
    return el.closest && el.closest("#composer") && el.name &&
      ["message", "attachments", "background", "csrfmiddlewaretoken"].indexOf(el.name) < 0;
  }
  // Counted before htmx sees the change (capture), so the save it starts carries the count.
  function onSettingEdit(e) { if (isSetting(e.target)) edits += 1; }
  document.addEventListener("input", onSettingEdit, true);
  document.addEventListener("change", onSettingEdit, true);
  function isSettingsSave(elt) { return elt.matches && elt.matches(".settings-bar, #composer-settings"); }
  document.addEventListener("htmx:beforeRequest", function (e) {
    if (isSettingsSave(e.detail.elt)) e.detail.xhr.chatsiteEdits = edits;
  });
  document.addEventListener("htmx:afterRequest", function (e) {
    var xhr = e.detail.xhr;
    if (!isSettingsSave(e.detail.elt) || !e.detail.successful || xhr.status >= 300) return;
    saved = Math.max(saved, xhr.chatsiteEdits || 0);
  });

  function mayUseSocket(form) {
    var root = document.getElementById("main");
    var files = form.querySelector("input[type=file][name=attachments]");
    var once = form.querySelector("input[name=background]");
    return socket !== null && socket.elt === root && socket.conversation === root.dataset.conversation &&
      root.contains(form) &&
      edits === saved && !(files && files.files.length) && !(once && once.checked);
  }

  function sendOnSocket(form) {
    var box = form.querySelector("textarea[name=message]");
    var button = form.querySelector("button[type=submit]");
    sent += 1;
    sending = { id: "m" + sent, button: button, timer: setTimeout(noAnswer, 15000) };
    if (button) button.disabled = true;
    socket.wrapper.sendImmediately(JSON.stringify({ action: "send", message: box.value, id: sending.id }));
  }

  // No answer came (the socket closed, or went quiet: it is not used again until it reopens):
  // as for a POST that got no answer (above).
  function noAnswer() {
    answered(false);
    socket = null;
    retryLater();
  }

  function answered(ok) {
    var was = sending;
    sending = null;
    clearTimeout(was.timer);
    if (was.button) was.button.disabled = false;
    if (!ok) return;
    var error = document.getElementById("composer-error");
    if (error) error.textContent = "";
    document.dispatchEvent(new CustomEvent("chatsite:composerSent"));
  }

  // The server's answer to the message sent (chat.js reads the frame; an error is shown there).
  document.addEventListener("chatsite:sent", function (e) {
    if (sending && e.detail.id === sending.id) answered(e.detail.saved);
  });
  document.addEventListener("htmx:afterRequest", function (e) {
    var el = note();
    if (e.detail.elt === composer() && e.detail.successful && el) el.hidden = true;
  });
})();
