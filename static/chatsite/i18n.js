// The words the scripts write into the page, in the page's language: base.html puts them in
// #script-text (chatsite/chat/context.py, SCRIPT_TEXT, translated like any other string).
// chatsiteText("Remove %(name)s", {name: "a.pdf"}); an unknown text comes back as it is.
(function () {
  "use strict";
  var table = null;
  window.chatsiteText = function (text, values) {
    if (table === null) {
      var el = document.getElementById("script-text");
      try { table = el ? JSON.parse(el.textContent) : {}; } catch (e) { table = {}; }
    }
    var out = table[text] || text;
    Object.keys(values || {}).forEach(function (key) {
      out = out.split("%(" + key + ")s").join(String(values[key]));
    });
    return out;
  };
})();
