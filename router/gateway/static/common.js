// Omniroute pages: one websocket to the gateway with numbered commands, replies and automatic reconnection.
"use strict";

const Omni = (() => {
  function url(path) {
    return (location.protocol === "https:" ? "wss" : "ws") + "://" + location.host + path;
  }

  // A connection to `path` (e.g. "/v1/agent"). handlers: open() after each (re)connect, push(msg) for server
  // messages that answer no command, status(text, ok) for the connection line. call() returns a Promise of
  // the `ack`, and rejects with the `error` message (code, message).
  function connect(path, handlers) {
    let ws = null;
    let nextId = 1;
    let delay = 500;
    let closedByUs = false;
    const pending = new Map();

    function open() {
      handlers.status && handlers.status("connecting…", false);
      ws = new WebSocket(url(path));
      ws.onopen = () => {
        delay = 500;
        handlers.status && handlers.status("connected", true);
        handlers.open && handlers.open();
      };
      ws.onmessage = (event) => {
        let msg;
        try { msg = JSON.parse(event.data); } catch (e) { return; }
        if ((msg.type === "ack" || msg.type === "error") && pending.has(msg.id)) {
          const { resolve, reject } = pending.get(msg.id);
          pending.delete(msg.id);
          if (msg.type === "ack") resolve(msg); else reject(msg);
          return;
        }
        handlers.push && handlers.push(msg);
      };
      ws.onclose = () => {
        for (const { reject } of pending.values()) reject({ code: "disconnected", message: "connection lost" });
        pending.clear();
        if (closedByUs) { handlers.status && handlers.status("disconnected", false); return; }
        handlers.status && handlers.status("reconnecting in " + Math.round(delay / 1000) + " s…", false);
        setTimeout(open, delay);
        delay = Math.min(delay * 2, 8000);
      };
    }

    function call(type, body) {
      return new Promise((resolve, reject) => {
        if (!ws || ws.readyState !== WebSocket.OPEN) {
          reject({ code: "disconnected", message: "not connected to the server" });
          return;
        }
        const id = nextId++;
        pending.set(id, { resolve, reject });
        ws.send(JSON.stringify(Object.assign({ type: type, id: id }, body || {})));
      });
    }

    function close() { closedByUs = true; if (ws) ws.close(); }

    open();
    return { call, close };
  }

  // A new element: el("li", {class: "x", "data-testid": "y"}, "text", child...). Text is never parsed as HTML.
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k.startsWith("on")) node.addEventListener(k.slice(2), v); else node.setAttribute(k, v === true ? "" : v);
    }
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  function duration(seconds) {
    seconds = Math.max(0, Math.round(seconds || 0));
    const m = Math.floor(seconds / 60);
    const s = seconds % 60;
    return m ? m + " min " + String(s).padStart(2, "0") + " s" : s + " s";
  }

  function time(at) {
    return at ? new Date(at * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) : "";
  }

  // Shows an error (or any notice) in the page's alert line.
  function notify(text, kind) {
    const box = document.getElementById("notice");
    if (!box) return;
    box.textContent = text;
    box.className = "notice " + (kind || "error");
    box.hidden = !text;
  }

  function errorText(err) {
    return err && err.message ? err.message + (err.code ? " (" + err.code + ")" : "") : String(err);
  }

  return { connect, el, duration, time, notify, errorText };
})();
