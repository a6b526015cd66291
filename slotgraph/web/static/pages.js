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

// Live slots: the day's list follows availabilityChanged over graphql-transport-ws, so a slot
// another contact takes disappears without a reload. Without a socket the page stays as
// served and booking re-checks the slot anyway.
(function () {
  "use strict";
  var list = document.getElementById("slots");
  if (!list || !window.WebSocket) {
    return;
  }
  var data = list.dataset;
  var scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
  var socket = new WebSocket(scheme + "//" + window.location.host + "/graphql",
    "graphql-transport-ws");
  var query = "subscription Live($slug: String!, $start: DateTime!, $end: DateTime!, " +
    "$tz: String!, $duration: Int, $domain: String) { availabilityChanged(pageSlug: $slug, " +
    "start: $start, end: $end, timeZone: $tz, duration: $duration, domain: $domain) { " +
    "__typename ... on AvailabilityChange { days { date starts } } } }";
  var host = window.location.hostname;
  socket.onopen = function () {
    socket.send(JSON.stringify({ type: "connection_init", payload: {} }));
  };
  socket.onmessage = function (event) {
    var message = JSON.parse(event.data);
    if (message.type === "connection_ack") {
      socket.send(JSON.stringify({
        id: "live", type: "subscribe", payload: { query: query, variables: {
          slug: data.slug, start: data.start, end: data.end, tz: data.tz,
          duration: Number(data.duration), domain: host
        } }
      }));
    } else if (message.type === "ping") {
      socket.send(JSON.stringify({ type: "pong" }));
    } else if (message.type === "next") {
      var answer = message.payload.data && message.payload.data.availabilityChanged;
      if (answer && answer.days) {
        answer.days.forEach(function (day) {
          if (day.date !== data.date) {
            return;
          }
          var open = {};
          day.starts.forEach(function (start) { open[Date.parse(start)] = true; });
          list.querySelectorAll("li[data-start]").forEach(function (item) {
            if (!open[Date.parse(item.dataset.start)]) {
              item.remove();
            }
          });
        });
      }
      document.documentElement.dataset.live = "on";
    }
  };
})();

// Focus follows the flow: after each step (a day, a slot, a sent form) the server marks the
// next step's heading or the error summary with data-focus; moving focus there tells a
// screen reader and a keyboard user where the page went.
(function () {
  "use strict";
  var target = document.querySelector("[data-focus]");
  if (target && window.location.search) {
    target.focus();
  }
})();

// In an embed (/meetings/embed/...), tell the embedding page our height, so embed.js can
// size the iframe without scroll bars. Only a number is sent: nothing private leaves.
(function () {
  "use strict";
  if (!document.documentElement.dataset.embed || window.parent === window) {
    return;
  }
  var last = 0;
  function report() {
    var height = Math.ceil(document.documentElement.getBoundingClientRect().height);
    if (height !== last) {
      last = height;
      window.parent.postMessage({ type: "slotgraph:height", height: height }, "*");
    }
  }
  report();
  if (window.ResizeObserver) {
    new ResizeObserver(report).observe(document.documentElement);
  } else {
    window.addEventListener("resize", report);
  }
})();
