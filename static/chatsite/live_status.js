// What the socket changes around the streamed text: a "Retrying in 3 s…" note while the API is
// tried again, and the header's token total when a turn ends or a title arrives (the tab's
// title is conversations.js's). chat.js draws the turns; this only listens to the same frames.
(function () {
  "use strict";

  var FINAL = ["completed", "incomplete", "failed", "cancelled", "budget_exceeded"];
  var timers = {};

  function clearRetry(turnId) {
    clearInterval(timers[turnId]);
    delete timers[turnId];
    var note = document.getElementById("retry-" + turnId);
    if (note) note.remove();
  }

  // {"retry": [turn id, seconds, reason]}: counts down under the turn until the next try.
  function showRetry(turnId, seconds, reason) {
    var part = document.getElementById("a-" + turnId);
    var meta = document.getElementById("meta-" + turnId);
    if (!part || !meta || FINAL.indexOf(part.dataset.status) >= 0) return;
    clearRetry(turnId);
    var note = document.createElement("p");
    note.id = "retry-" + turnId;
    note.className = "retry-note";
    note.setAttribute("data-retry-note", "");
    note.setAttribute("role", "status");
    var left = seconds;
    // The server's words (retry_notes.REASONS) and the status code after them: "… (503)".
    var parts = /^(.*?)( \(\d+\))?$/.exec(reason);
    var words = chatsiteText(parts[1]) + (parts[2] || "");
    function draw() {
      // Text nodes only: the reason is the server's words, never parsed as HTML.
      note.textContent = (left > 0 ? chatsiteText("Retrying in %(seconds)s s…", { seconds: left })
        : chatsiteText("Retrying now…")) + " " + words + ".";
    }
    draw();
    meta.prepend(note);
    timers[turnId] = setInterval(function () {
      left -= 1;
      if (!document.body.contains(note)) { clearRetry(turnId); return; }
      draw();
    }, 1000);
  }

  // The header's token total, fetched again (the server counts every branch and the title).
  function totalsChanged() {
    var total = document.getElementById("conversation-usage");
    if (!total) return;
    // Offline (or the server away): the total stays as it was until the next reply.
    chatsiteAjax("GET", total.dataset.url, { target: "#conversation-usage", swap: "outerHTML" })
      .catch(function () {});
  }

  document.addEventListener("htmx:wsBeforeMessage", function (e) {
    var message = e.detail.message;
    if (typeof message !== "string") return;
    if (message.lastIndexOf('{"retry":', 0) === 0) {
      e.preventDefault();
      try {
        var retry = JSON.parse(message).retry;
        showRetry(retry[0], retry[1], retry[2]);
      } catch (err) { /* a malformed frame: nothing to show */ }
    } else if (message.lastIndexOf('{"status":', 0) === 0) {
      var status;
      try { status = JSON.parse(message).status; } catch (err) { return; }
      clearRetry(status[0]); // the request went through (or the turn ended)
      if (FINAL.indexOf(status[1]) >= 0) totalsChanged();
    } else if (message.lastIndexOf('{"d":', 0) === 0) {
      for (var id in timers) clearRetry(id); // text is flowing again
    }
  });

  // A socket that (re)connects may have missed a turn's end: ask for the total as it is now.
  document.addEventListener("htmx:wsOpen", function () {
    totalsChanged();
  });

  document.addEventListener("htmx:oobAfterSwap", function (e) {
    // The model's title came (its tokens are counted in the total too), or a send redrew the
    // header with the total as it was when the message went (a quick reply may have ended).
    var id = e.target && e.target.id;
    if (id === "conversation-title" || id === "main-head") totalsChanged();
  });
})();
