// Progressive enhancement of the contact pages: everything works without this file.
// Zone detection (C19): when the visitor has not chosen a zone, show times in the browser's.
(function () {
  "use strict";
  var select = document.getElementById("tz");
  var params = new URLSearchParams(window.location.search);
  if (!select || params.has("tz")) {
    return;
  }
  var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  if (!zone || zone === select.value) {
    return;
  }
  params.set("tz", zone);
  window.location.replace(window.location.pathname + "?" + params.toString());
})();
