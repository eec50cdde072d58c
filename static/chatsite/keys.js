// Keyboard shortcuts, all in one place:
//   Ctrl+K / Cmd+K     search the conversations (the drawer opens on phones)
//   Ctrl+Shift+O       a new chat
//   Escape             stops a reply while it streams
//   ↑ (empty composer) edits the last message
// Keys an open dialog, menu, drawer, editor or rename field handles first (they mark the event
// handled) are left to them.
(function () {
  "use strict";

  function plain(e) { return !e.ctrlKey && !e.metaKey && !e.altKey && !e.shiftKey; }

  function searchBox() { return document.querySelector("#sidebar input[type=search][name=q]"); }

  function focusSearch() {
    var box = searchBox();
    if (!box) return false;
    // Hidden in the closed drawer on phones (where the drawer's button shows): open it first.
    var opener = document.querySelector("[data-drawer-open]");
    if (opener && opener.getClientRects().length && window.chatsiteDrawer) window.chatsiteDrawer.open();
    box.focus();
    box.select();
    return true;
  }

  function newChat() {
    var link = document.querySelector("#sidebar a.new-chat");
    if (!link) return false;
    window.location.assign(link.href);
    return true;
  }

  function stopReply() {
    var main = document.getElementById("main");
    var stop = document.querySelector("#composer .stop");
    if (!main || !stop || !main.classList.contains("is-streaming") || document.querySelector("dialog[open]")) return false;
    stop.click();
    return true;
  }

  // The last of the person's messages on screen (the branch shown), opened for editing.
  function editLast(target) {
    if (target.value !== "" || !target.closest("#composer") || target.name !== "message") return false;
    var buttons = document.querySelectorAll("#transcript [data-turn-id] .edit-turn");
    if (!buttons.length) return false;
    buttons[buttons.length - 1].click();
    return true;
  }

  document.addEventListener("keydown", function (e) {
    if (e.defaultPrevented || e.isComposing) return;
    var key = e.key.length === 1 ? e.key.toLowerCase() : e.key;
    var done = false;
    if ((e.ctrlKey || e.metaKey) && !e.altKey && !e.shiftKey && key === "k") done = focusSearch();
    else if ((e.ctrlKey || e.metaKey) && e.shiftKey && !e.altKey && key === "o") done = newChat();
    else if (key === "Escape" && plain(e)) done = stopReply();
    else if (key === "ArrowUp" && plain(e)) done = editLast(e.target);
    if (done) e.preventDefault();
  });
})();
