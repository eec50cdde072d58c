// Live activity blocks. The runner appends each step on its own to the reply's `.steps`; this
// gathers consecutive thought and tool steps into one <details data-activity>, the same markup
// rendering/activity.py gives a saved turn (templates/chat/steps.html#activity): open while it
// runs, closed when the answer starts. It also shows the durations it measured itself (the API
// gives steps no timestamps): "Thought for 4 s", "Researched · 3 searches · 1 m 12 s".
// Everything here is built with DOM APIs and textContent; no model text is parsed as HTML.
(function () {
  "use strict";

  var FINAL = ["completed", "incomplete", "failed", "cancelled", "budget_exceeded"];
  // Keep in step with rendering/activity.py (COUNTED, NOUNS, THOUGHT_VERBS, OTHER_VERBS).
  var COUNTED = {
    google_search_call: "search", google_maps_call: "search", file_search_call: "search",
    retrieval_call: "search", url_context_call: "read", code_execution_call: "run",
    function_call: "tool", mcp_server_tool_call: "tool",
  };
  // The words are context.py's SCRIPT_TEXT and SCRIPT_PLURALS, translated for the page.
  var NOUNS = [
    ["search", "Researched", "Researching"],
    ["read", "Read pages", "Reading pages"],
    ["run", "Ran code", "Running code"],
    ["tool", "Used tools", "Using tools"],
  ];
  var THOUGHT_VERBS = ["Thought", "Thinking"];
  var OTHER_VERBS = ["Worked", "Working"];

  // Measured here, by step element id (a step's id survives its re-renders): when a live step
  // was first seen, and the seconds a thought or an activity block took.
  var started = {};
  var took = {};

  function seconds(ms) { return Math.max(1, Math.round(ms / 1000)); }
  function duration(s) {
    var m = Math.floor(s / 60);
    return m ? chatsiteText("%(minutes)s m %(seconds)s s", { minutes: m, seconds: s % 60 })
      : chatsiteText("%(seconds)s s", { seconds: s });
  }

  function thoughtFor(secs) { return chatsiteText("Thought for %(duration)s", { duration: duration(secs) }); }

  function summaryText(types, running, secs) {
    var counts = {};
    types.forEach(function (t) { var n = COUNTED[t]; if (n) counts[n] = (counts[n] || 0) + 1; });
    var parts = [];
    var verbs = null;
    NOUNS.forEach(function (n) {
      if (!counts[n[0]]) return;
      parts.push(chatsitePlural(n[0], counts[n[0]]));
      if (!verbs) verbs = [n[1], n[2]];
    });
    if (!verbs) verbs = types.indexOf("thought") >= 0 ? THOUGHT_VERBS : OTHER_VERBS;
    var verb = chatsiteText(running ? verbs[1] : verbs[0]);
    if (!parts.length && !running && secs && verbs === THOUGHT_VERBS) return thoughtFor(secs);
    var words = [verb].concat(parts);
    if (!running && secs) words.push(duration(secs));
    return words.join(" · ");
  }

  function isStep(el) {
    return el.nodeType === 1 && el.hasAttribute("data-step-type") && el.id;
  }
  function isActivityStep(el) { return isStep(el) && el.dataset.stepType !== "model_output"; }
  function stepsOf(block) { return block.querySelector(":scope > .activity-steps"); }
  function keyOf(block) {
    var first = stepsOf(block).querySelector(":scope > [data-step-type]");
    return first ? first.id : "";
  }
  function replyEnded(el) {
    var part = el.closest("[data-role=assistant]");
    return !part || FINAL.indexOf(part.dataset.status) >= 0;
  }
  function answered(block) {
    for (var el = block.nextElementSibling; el; el = el.nextElementSibling) {
      if (el.dataset.stepType === "model_output") return true;
    }
    return false;
  }

  // The summary from the steps inside, and the tense from the reply's state.
  function refresh(block) {
    var types = Array.prototype.map.call(
      stepsOf(block).querySelectorAll(":scope > [data-step-type]"),
      function (el) { return el.dataset.stepType; }
    );
    var running = !answered(block) && !replyEnded(block);
    var key = keyOf(block);
    if (!running && started[key] && !took[key]) took[key] = seconds(Date.now() - started[key]);
    block.classList.toggle("is-running", running);
    block.querySelector(":scope > summary > .activity-label").textContent =
      summaryText(types, running, took[key]);
  }

  function newBlock() {
    var block = document.createElement("details");
    block.className = "activity is-running";
    block.setAttribute("data-activity", "");
    block.open = true;
    var summary = document.createElement("summary");
    var label = document.createElement("span");
    label.className = "activity-label";
    summary.appendChild(label);
    var inner = document.createElement("div");
    inner.className = "activity-steps";
    block.append(summary, inner);
    return block;
  }

  // Google's search suggestions are shown, never tucked away (their terms): when the block
  // closes, the results that carry them go right after it, as rendering/activity.py puts them.
  var kept = new WeakSet();
  function keepInSight(block) {
    var anchor = block;
    stepsOf(block).querySelectorAll(":scope > [data-step-type=google_search_result]").forEach(
      function (el) {
        if (!el.querySelector("iframe.search-suggestions")) return;
        kept.add(el);
        anchor.after(el);
        anchor = el;
      }
    );
  }

  // A step the runner just appended to a reply's `.steps`: into the activity before it (a new
  // one if there is none), or, for the answer, the end of that activity.
  function placeAppended(step) {
    var prev = step.previousElementSibling;
    var block = prev && prev.matches("details[data-activity]") ? prev : null;
    if (step.dataset.stepType === "model_output") {
      if (block) { block.open = false; keepInSight(block); refresh(block); }
      return;
    }
    if (!block) {
      block = newBlock();
      step.before(block);
      started[step.id] = Date.now(); // seen from its start: its duration can be told
    }
    stepsOf(block).appendChild(step);
    refresh(block);
  }

  // A thought's final form replaced its live shell: say how long it took, when known.
  function labelThought(step) {
    if (step.dataset.stepType !== "thought") return;
    if (step.classList.contains("is-live")) {
      if (!started["t:" + step.id]) started["t:" + step.id] = Date.now();
      return;
    }
    var since = started["t:" + step.id];
    if (since && !took["t:" + step.id]) took["t:" + step.id] = seconds(Date.now() - since);
    var secs = took["t:" + step.id];
    var label = step.querySelector(":scope > summary > .thought-label");
    if (secs && label) label.textContent = thoughtFor(secs);
  }

  function added(node) {
    if (node.nodeType !== 1) return;
    var appended = node.parentElement && node.parentElement.classList.contains("steps");
    if (isStep(node) && appended && !kept.has(node)) {
      if (node.dataset.stepType === "thought" && node.classList.contains("is-live")) {
        started["t:" + node.id] = Date.now(); // appended live: timed from here
      }
      if (isActivityStep(node) || node.dataset.stepType === "model_output") placeAppended(node);
    }
    // A step re-rendered in place, or a whole reply or turn drawn by the server: its thoughts
    // and blocks get the durations measured before, and their words again.
    var steps = isStep(node) ? [node] : node.querySelectorAll("[data-step-type=thought]");
    Array.prototype.forEach.call(steps, labelThought);
    var block = node.closest("details[data-activity]");
    if (block) refresh(block);
    Array.prototype.forEach.call(node.querySelectorAll("details[data-activity]"), refresh);
  }

  function watch(root) {
    new MutationObserver(function (records) {
      records.forEach(function (r) {
        if (r.type === "attributes") {
          // The reply's status changed: its last block stops "…ing" when the reply ends.
          Array.prototype.forEach.call(r.target.querySelectorAll("details[data-activity]"), refresh);
          return;
        }
        Array.prototype.forEach.call(r.addedNodes, added);
      });
    }).observe(root, { childList: true, subtree: true, attributes: true, attributeFilter: ["data-status"] });
  }

  // The whole body: htmx may swap in the transcript itself (a new conversation's first reply).
  function start() { watch(document.body); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
