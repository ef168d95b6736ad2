/* Live figures for the live page and the wall (Gathering, Apache-2.0).
 *
 * The page arrives with the figures already in it. This script follows the live server's event
 * stream (Server-Sent Events; the browser resumes it with Last-Event-ID after a drop) and
 * updates the figures in place. When the stream cannot be opened at all (a proxy or network
 * that blocks it), it asks the page's own server for state.json every few seconds instead.
 * On the wall it also rotates between the panels. Texts come translated from the server:
 * nothing here is in a particular language except through data attributes.
 */
(function () {
  "use strict";

  var root = document.querySelector("[data-live-events]");
  if (!root) {
    return;
  }
  var lang = root.getAttribute("data-live-lang") || "en";
  var eventsUrl = root.getAttribute("data-live-events");
  var stateUrl = root.getAttribute("data-live-state");
  var statusNode = root.querySelector("[data-live-status]");
  var numbers = new Intl.NumberFormat(lang);
  var POLL_SECONDS = 5;
  var lastId = "";
  var polling = null;

  function setStatus(state) {
    root.setAttribute("data-live-state-now", state);
    if (statusNode) {
      statusNode.textContent = statusNode.getAttribute("data-text-" + state) || "";
    }
  }

  function setCounter(name, value) {
    if (typeof value !== "number") {
      return;
    }
    var nodes = root.querySelectorAll('[data-live-counter="' + name + '"]');
    var text = numbers.format(value);
    for (var i = 0; i < nodes.length; i += 1) {
      if (nodes[i].textContent !== text) {
        nodes[i].textContent = text;
        flash(nodes[i]);
      }
    }
  }

  function flash(node) {
    node.classList.remove("is-changed");
    // Reading layout restarts the highlight when two changes come close together.
    void node.offsetWidth;
    node.classList.add("is-changed");
  }

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (text !== undefined) {
      node.textContent = text;
    }
    return node;
  }

  function autoDir(node) {
    node.setAttribute("dir", "auto");
    return node;
  }

  function stageItem(item) {
    var li = element("li");
    li.appendChild(element("span", "stage__time", item.time));
    li.appendChild(document.createTextNode(" "));
    li.appendChild(autoDir(element("span", "", item.title)));
    if (item.room) {
      li.appendChild(document.createTextNode(" "));
      li.appendChild(element("span", "muted", "· " + item.room));
    }
    return li;
  }

  function announcementItem(item) {
    var level = item.level === "important" ? "important" : "info";
    var li = element("li", "announcement announcement--" + level);
    if (!root.classList.contains("wall-main")) {
      li.appendChild(element("span", "announcement__time", item.time));
      li.appendChild(document.createTextNode(" "));
    }
    li.appendChild(autoDir(element("span", "", item.text)));
    return li;
  }

  function messageItem(item) {
    var li = element("li");
    li.appendChild(autoDir(element("p", "", item.text)));
    var by = element("p", "wall-messages__by", "— ");
    if (item.name) {
      by.appendChild(element("bdi", "", item.name));
      by.appendChild(document.createTextNode(", "));
    }
    by.appendChild(document.createTextNode(item.country));
    li.appendChild(by);
    return li;
  }

  function fillList(name, items, make) {
    var lists = root.querySelectorAll('[data-live-list="' + name + '"]');
    for (var i = 0; i < lists.length; i += 1) {
      var list = lists[i];
      var limit = parseInt(list.getAttribute("data-live-limit"), 10) || items.length;
      while (list.firstChild) {
        list.removeChild(list.firstChild);
      }
      var shown = items.slice(0, limit);
      if (!shown.length) {
        var empty = list.getAttribute("data-live-empty");
        if (empty) {
          list.appendChild(element("li", "muted", empty));
        }
      }
      for (var j = 0; j < shown.length; j += 1) {
        list.appendChild(make(shown[j]));
      }
    }
  }

  function inLanguage(value) {
    return (value && value[lang]) || [];
  }

  var renderers = {
    checked_in: function (value) { setCounter("checked_in", value); },
    voices: function (value) { setCounter("voices", value); },
    countries: function (value) { setCounter("countries", value); },
    sites: function (value) {
      setCounter("sites.connected", value.connected);
      setCounter("sites.attendance", value.attendance);
    },
    stage: function (value) {
      var stage = (value && value[lang]) || { now: [], next: [] };
      fillList("stage.now", stage.now || [], stageItem);
      fillList("stage.next", stage.next || [], stageItem);
    },
    announcements: function (value) { fillList("announcements", inLanguage(value), announcementItem); },
    messages: function (value) { fillList("messages", inLanguage(value), messageItem); }
  };

  function apply(topic, value) {
    if (Object.prototype.hasOwnProperty.call(renderers, topic) && value !== null) {
      renderers[topic](value);
    }
  }

  function poll() {
    var url = stateUrl + (lastId ? "?last_event_id=" + encodeURIComponent(lastId) : "");
    fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (state) {
        if (!state || !state.topics) {
          setStatus("offline");
          return;
        }
        lastId = String(state.id || lastId);
        Object.keys(state.topics).forEach(function (topic) { apply(topic, state.topics[topic]); });
        setStatus("polling");
      })
      .catch(function () { setStatus("offline"); });
  }

  function startPolling() {
    if (polling === null && stateUrl) {
      poll();
      polling = window.setInterval(poll, POLL_SECONDS * 1000);
    }
  }

  function follow() {
    if (!window.EventSource || !eventsUrl) {
      startPolling();
      return;
    }
    var source = new EventSource(eventsUrl);
    var opened = false;
    var failures = 0;
    Object.keys(renderers).forEach(function (topic) {
      source.addEventListener(topic, function (event) {
        lastId = event.lastEventId || lastId;
        try {
          apply(topic, JSON.parse(event.data));
        } catch (error) {
          return;
        }
      });
    });
    source.onopen = function () {
      opened = true;
      failures = 0;
      setStatus("live");
    };
    source.onerror = function () {
      failures += 1;
      // Never opened (blocked), or refused for good: poll instead. Otherwise the browser
      // reconnects by itself and resumes from the last event it saw.
      if ((!opened && failures >= 2) || source.readyState === EventSource.CLOSED) {
        source.close();
        startPolling();
      } else {
        setStatus("reconnecting");
      }
    };
  }

  function rotateWall() {
    var seconds = parseInt(root.getAttribute("data-wall-rotate"), 10);
    var panels = root.querySelectorAll("[data-wall-panel]");
    if (!(seconds > 0) || panels.length < 2) {
      return;
    }
    var pinned = new URLSearchParams(window.location.search).get("panel");
    var current = 0;
    for (var i = 0; i < panels.length; i += 1) {
      if (pinned && panels[i].classList.contains("wall-panel--" + pinned)) {
        current = i;
      }
    }
    function show(index) {
      for (var k = 0; k < panels.length; k += 1) {
        panels[k].classList.toggle("is-current", k === index);
        panels[k].setAttribute("aria-hidden", k === index ? "false" : "true");
      }
    }
    document.body.classList.add("wall--rotating");
    show(current);
    if (!pinned) {
      window.setInterval(function () {
        current = (current + 1) % panels.length;
        show(current);
      }, seconds * 1000);
    }
  }

  rotateWall();
  follow();
})();
