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

(function () {
  "use strict";
  var socket = null;

  // Live slots: the day's list follows availabilityChanged over graphql-transport-ws, so a
  // slot another contact takes disappears without a reload. Without a socket the page stays
  // as served and booking re-checks the slot anyway.
  function live() {
    if (socket) {
      socket.onmessage = null;
      socket.close();
      socket = null;
    }
    var list = document.getElementById("slots");
    if (!list || !window.WebSocket) {
      return;
    }
    var data = list.dataset;
    var scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    var ws = new WebSocket(scheme + "//" + window.location.host + "/graphql",
      "graphql-transport-ws");
    socket = ws;
    var query = "subscription Live($slug: String!, $start: DateTime!, $end: DateTime!, " +
      "$tz: String!, $duration: Int, $domain: String) { availabilityChanged(pageSlug: $slug, " +
      "start: $start, end: $end, timeZone: $tz, duration: $duration, domain: $domain) { " +
      "__typename ... on AvailabilityChange { days { date starts } } } }";
    ws.onopen = function () {
      ws.send(JSON.stringify({ type: "connection_init", payload: {} }));
    };
    ws.onmessage = function (event) {
      var message = JSON.parse(event.data);
      if (message.type === "connection_ack") {
        ws.send(JSON.stringify({
          id: "live", type: "subscribe", payload: { query: query, variables: {
            slug: data.slug, start: data.start, end: data.end, tz: data.tz,
            duration: Number(data.duration), domain: window.location.hostname
          } }
        }));
      } else if (message.type === "ping") {
        ws.send(JSON.stringify({ type: "pong" }));
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
  }

  // Focus follows the flow: after each step (a day, a slot, a sent form) the server marks
  // the next step's heading or the error summary with data-focus; moving focus there tells
  // a screen reader and a keyboard user where the page went.
  function focusStep(always) {
    var target = document.querySelector("[data-focus]") ||
      (always && document.getElementById("month-heading"));
    if (target && (always || window.location.search)) {
      target.focus();
    }
  }

  // Steps without reloads: links and GET forms that stay on this page fetch the next step
  // and swap <main>, keeping the history; anything unexpected falls back to a normal load.
  var main = document.getElementById("main");
  function sameStep(url) {
    return url.origin === window.location.origin && url.pathname === window.location.pathname;
  }
  function show(url, push) {
    return window.fetch(url.href, { credentials: "same-origin" }).then(function (response) {
      if (!response.ok || response.redirected) {
        throw new Error("reload");
      }
      return response.text();
    }).then(function (text) {
      var next = new window.DOMParser().parseFromString(text, "text/html");
      var fresh = next.getElementById("main");
      if (!fresh) {
        throw new Error("reload");
      }
      main.innerHTML = fresh.innerHTML;
      document.title = next.title;
      if (push) {
        window.history.pushState(null, "", url.href);
      }
      focusStep(true);
      live();
    }).catch(function () {
      window.location.assign(url.href);
    });
  }
  if (main && window.fetch && window.DOMParser && window.history.pushState) {
    main.addEventListener("click", function (event) {
      var link = event.target.closest ? event.target.closest("a[href]") : null;
      if (!link || event.defaultPrevented || event.button !== 0 || event.metaKey ||
          event.ctrlKey || event.shiftKey || event.altKey || link.target ||
          link.hasAttribute("download")) {
        return;
      }
      var url = new URL(link.href);
      if (sameStep(url)) {
        event.preventDefault();
        show(url, true);
      }
    });
    main.addEventListener("submit", function (event) {
      var form = event.target;
      if ((form.getAttribute("method") || "get").toLowerCase() !== "get") {
        return;
      }
      var url = new URL(form.getAttribute("action") || window.location.href, window.location.href);
      url.search = new URLSearchParams(new window.FormData(form)).toString();
      if (sameStep(url)) {
        event.preventDefault();
        show(url, true);
      }
    });
    window.addEventListener("popstate", function () {
      show(new URL(window.location.href), false);
    });
  }

  focusStep(false);
  live();
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
    new window.ResizeObserver(report).observe(document.documentElement);
  } else {
    window.addEventListener("resize", report);
  }
})();
