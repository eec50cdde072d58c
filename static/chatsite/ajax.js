// chatsiteAjax(verb, url, context): htmx.ajax, one request at a time, with a promise that is the
// request's own. The scripts' requests have no `source`, so htmx counts them all as <body>'s, and
// htmx lets an element have one request out at a time: a second call made while one is out is
// queued by htmx (a newer call drops an older queued one), its promise is resolved at once, and
// the queued request, when it goes, makes a promise that no one holds. If that one fails (the
// browser went offline meanwhile), htmx rejects it with `undefined`: an uncaught error on the
// page. Here each call waits until the one before has settled, so htmx never queues one; the
// caller's then/catch see how its own request went.
(function () {
  "use strict";
  var last = Promise.resolve();
  window.chatsiteAjax = function (verb, url, context) {
    var request = last.then(function () { return htmx.ajax(verb, url, context); });
    last = request.catch(function () {}); // the next waits for this one, however it went
    return request;
  };
})();
