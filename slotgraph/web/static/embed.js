// Sizes Slotgraph booking-page iframes on the embedding site: include this script (from the
// same origin as the iframe) after <iframe data-slotgraph-embed src=".../meetings/embed/...">.
// It accepts height messages only from that origin and only from one of those iframes.
(function () {
  "use strict";
  var script = document.currentScript;
  var origin = new URL(script.src, window.location.href).origin;
  window.addEventListener("message", function (event) {
    var data = event.data;
    if (event.origin !== origin || !data || data.type !== "slotgraph:height") {
      return;
    }
    var height = Number(data.height);
    if (!(height > 0 && height < 20000)) {
      return;
    }
    document.querySelectorAll("iframe[data-slotgraph-embed]").forEach(function (frame) {
      if (frame.contentWindow === event.source) {
        frame.style.height = Math.ceil(height) + "px";
      }
    });
  });
})();
