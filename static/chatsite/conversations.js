// The sidebar and the conversation header: the delete <dialog>, Escape out of Rename, and the
// tab title following the conversation's (the drawer: drawer.js; shortcuts: keys.js).
// Everything here has a plain-HTML fallback (links and forms), so the page works without it.
(function () {
  "use strict";

  document.addEventListener("click", function (e) {
    var el = e.target.closest ? e.target : null;
    if (!el) return;
    var opener = el.closest("[data-open-dialog]");
    if (opener) {
      var dialog = document.getElementById(opener.dataset.openDialog);
      if (dialog && dialog.showModal) { e.preventDefault(); dialog.showModal(); }
      return;
    }
    var toggle = el.closest("[data-toggle-menu]");
    if (toggle) {
      var menu = document.getElementById(toggle.dataset.toggleMenu);
      if (menu) {
        e.preventDefault();
        menu.hidden = !menu.hidden;
        toggle.setAttribute("aria-expanded", String(!menu.hidden));
        if (!menu.hidden) { var first = menu.querySelector("a"); if (first) first.focus(); }
      }
      return;
    }
    document.querySelectorAll(".menu[id]:not([hidden])").forEach(function (open) {
      if (!open.contains(el)) {
        open.hidden = true;
        var owner = document.querySelector('[data-toggle-menu="' + open.id + '"]');
        if (owner) owner.setAttribute("aria-expanded", "false");
      }
    });
    var copy = el.closest("[data-copy-from]");
    if (copy) {
      var field = document.getElementById(copy.dataset.copyFrom);
      if (field && navigator.clipboard) {
        navigator.clipboard.writeText(field.value).then(function () {
          copy.textContent = chatsiteText("Copied");
          setTimeout(function () { copy.textContent = chatsiteText("Copy"); }, 1500);
        }, function () { field.select(); });
      } else if (field) { field.select(); }
      return;
    }
    var closer = el.closest("[data-close-dialog]");
    if (closer && closer.closest("dialog")) { e.preventDefault(); closer.closest("dialog").close(); }
  });

  document.addEventListener("keydown", function (e) {
    if (e.key === "Escape") {
      if (e.target.matches && e.target.matches("input[data-rename]")) {
        var cancel = document.querySelector("[data-rename-cancel]");
        if (cancel) { e.preventDefault(); cancel.click(); }
      } else if (document.querySelector(".menu[id]:not([hidden])")) {
        e.preventDefault();
        document.querySelectorAll(".menu[id]:not([hidden])").forEach(function (menu) {
          menu.hidden = true;
          var owner = document.querySelector('[data-toggle-menu="' + menu.id + '"]');
          if (owner) { owner.setAttribute("aria-expanded", "false"); owner.focus(); }
        });
      }
    }
  });

  // The tab's title is the conversation's, also after a rename or a new title arrives.
  function followTitle() {
    var heading = document.getElementById("conversation-title");
    if (heading) document.title = heading.textContent.trim() + " · chatsite";
  }
  document.addEventListener("htmx:load", followTitle);
  document.addEventListener("htmx:oobAfterSwap", followTitle);
  document.addEventListener("htmx:afterSettle", function () {
    followTitle();
    var field = document.querySelector("input[data-rename]");
    if (field && document.activeElement !== field) { field.focus(); field.select(); }
  });
  document.addEventListener("DOMContentLoaded", followTitle);

  // The list arrives live through the socket; while the person searches, their results stay.
  document.addEventListener("htmx:oobBeforeSwap", function (e) {
    var target = e.detail && e.detail.target;
    if (!target || target.id !== "conversation-list") return;
    var box = document.querySelector("#sidebar input[name=q]");
    if (box && box.value.trim()) e.preventDefault();
  });

  // A reply moved a conversation to the top of the list (`{"top": id}` on the socket, sent
  // only when the list's "Today" group is already first): move its entry there. A list that
  // does not have it (shorter, or searched) asks the server for the whole list instead.
  function searching() {
    var box = document.querySelector("#sidebar input[name=q]");
    return !!(box && box.value.trim());
  }
  window.chatsiteSidebar = {
    top: function (id) {
      var list = document.getElementById("conversation-list");
      if (!list || searching()) return;
      var link = document.getElementById("conversation-link-" + id);
      var today = list.querySelector("section[data-group=today] > ul");
      if (!link || !today) {
        var form = document.querySelector("#sidebar form[role=search]");
        var main = document.getElementById("main");
        var current = (main && main.dataset.conversation) || "";
        if (form) {
          chatsiteAjax("GET", form.getAttribute("action") + "?current=" + encodeURIComponent(current),
            { target: list, swap: "outerHTML" }).catch(function () {}); // offline: the next list
        }
        return;
      }
      var entry = link.closest("li");
      var from = entry.parentNode;
      if (from === today && today.firstElementChild === entry) return;
      today.insertBefore(entry, today.firstElementChild);
      if (!from.children.length) from.closest("section").remove();
    }
  };

  // Drafts: the composer's unsent text is kept per conversation (in this browser) across
  // reloads, and forgotten once sent.
  function draftKey() {
    var root = document.getElementById("main");
    if (!root || !document.getElementById("composer")) return null;
    return "chatsite:draft:" + (root.dataset.conversation || "new");
  }
  function restoreDraft() {
    var key = draftKey();
    var box = document.querySelector("#composer textarea[name=message]");
    if (!key || !box || box.value) return;
    try {
      var saved = localStorage.getItem(key);
      if (saved) {
        box.value = saved;
        box.dispatchEvent(new Event("input", { bubbles: true })); // grows to fit
      }
    } catch (err) { /* storage off: no drafts */ }
  }
  var saving = null;
  document.addEventListener("input", function (e) {
    if (e.target.name !== "message" || !e.target.closest("#composer")) return;
    var key = draftKey();
    var value = e.target.value;
    clearTimeout(saving);
    saving = setTimeout(function () {
      try {
        if (value.trim()) localStorage.setItem(key, value); else localStorage.removeItem(key);
      } catch (err) { /* storage full or off */ }
    }, 300);
  });
  // Forgotten as the message goes (a new conversation's form is swapped away with its page,
  // so nothing after the request could reach it); kept again if the send is refused.
  document.addEventListener("htmx:beforeRequest", function (e) {
    if (!e.detail.elt || e.detail.elt.id !== "composer") return;
    clearTimeout(saving);
    try { localStorage.removeItem(draftKey()); } catch (err) { /* storage off */ }
  });
  document.addEventListener("htmx:afterRequest", function (e) {
    var form = e.detail.elt;
    if (!form || form.id !== "composer" || !form.isConnected) return;
    if (e.detail.successful && e.detail.xhr.status < 300) return;
    var box = form.querySelector("textarea[name=message]");
    try { if (box && box.value.trim()) localStorage.setItem(draftKey(), box.value); } catch (err) { /* off */ }
  });
  document.addEventListener("DOMContentLoaded", restoreDraft);
  document.addEventListener("focusin", function (e) {
    if (e.target.matches && e.target.matches("[data-select-on-focus]")) e.target.select();
  });
})();
