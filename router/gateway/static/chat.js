// The customer's chat widget over /v1/customer. The contact id and session token live in sessionStorage,
// so a reload (or a dropped connection) resumes the same conversation.
"use strict";

(() => {
  const KEY = "omniroute.chat";
  const $ = (id) => document.getElementById(id);
  const seen = new Set();
  let chat = JSON.parse(sessionStorage.getItem(KEY) || "null"); // {contact, session, ended}
  let agentName = "";

  const conn = Omni.connect("/v1/customer", {
    status(text, ok) { $("conn").textContent = text; $("conn").className = "conn" + (ok ? " ok" : ""); },
    open() { if (chat && !chat.ended) resume(); },
    push(msg) {
      if (chat && msg.contact && msg.contact !== chat.contact) return;
      switch (msg.type) {
        case "queue":
          status("You are number " + msg.position + " in line. Estimated wait: about " +
                 Math.max(1, Math.round(msg.estimated_wait / 60)) + " min.");
          break;
        case "agent_joined":
          agentName = msg.agent_name || "An agent";
          status(agentName + " joined the chat.");
          line({ from: "system", text: agentName + " joined the chat." });
          break;
        case "agent_left":
          status("The agent had to leave; you are back in line for the next one.");
          break;
        case "transferred":
          status("You are being transferred to another team; please wait.");
          line({ from: "system", text: "Transferred — the next available agent will join." });
          break;
        case "message": line(msg); break;
        case "ended": ended(msg.reason); break;
        case "error": Omni.notify(Omni.errorText(msg)); break;
      }
    },
  });

  function save() { sessionStorage.setItem(KEY, JSON.stringify(chat)); }
  function status(text) { $("status").textContent = text; }

  // "start-panel", "chat-panel", or "survey-panel" (shown under the ended conversation).
  function show(panel) {
    $("start-panel").hidden = panel !== "start-panel";
    $("chat-panel").hidden = panel === "start-panel";
    $("survey-panel").hidden = panel !== "survey-panel";
  }

  function line(m) {
    if (m.seq !== undefined) {
      if (seen.has(m.seq)) return;
      seen.add(m.seq);
    }
    const who = m.from === "customer" ? "You" : m.from === "agent" ? (m.agent_name || agentName || "Agent") : "";
    const item = Omni.el("li", { class: m.from === "customer" ? "mine" : m.from === "system" ? "system" : "theirs",
                                 "data-from": m.from },
      who ? Omni.el("span", { class: "who" }, who + (m.at ? " · " + Omni.time(m.at) : "")) : null, m.text);
    $("transcript").append(item);
    $("transcript").scrollTop = $("transcript").scrollHeight;
  }

  async function resume() {
    try {
      const ack = await conn.call("resume", { contact: chat.contact, session: chat.session });
      show("chat-panel");
      for (const m of ack.transcript) line(m);
      if (ack.state === "connected") status("You are chatting with an agent.");
      else if (ack.state === "queued" || ack.state === "offered") status("Waiting for an agent…");
      else ended("completed");
    } catch (err) {
      if (err.code === "disconnected") return; // retried on reconnect
      sessionStorage.removeItem(KEY);
      chat = null;
      show("start-panel");
      Omni.notify("Your previous chat could not be resumed: " + Omni.errorText(err));
    }
  }

  function ended(reason) {
    status(reason === "left" ? "You left the chat." : reason === "no_agent"
      ? "Sorry, no agent could take your chat in time." : "The conversation has ended.");
    line({ from: "system", text: "Chat ended." });
    $("send").disabled = $("text").disabled = $("leave").disabled = true;
    if (chat) { chat.ended = true; save(); }
    show("survey-panel");
  }

  $("start-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    Omni.notify("");
    const body = { name: $("name").value.trim(), text: $("first").value.trim() };
    for (const f of ["email", "phone", "topic"]) if ($(f).value.trim()) body[f] = $(f).value.trim();
    $("start").disabled = true;
    try {
      const ack = await conn.call("start", body);
      chat = { contact: ack.contact, session: ack.session, ended: false };
      save();
      show("chat-panel");
      $("send").disabled = $("text").disabled = $("leave").disabled = false;
      status("Waiting for an agent…");
      $("text").focus();
    } catch (err) {
      Omni.notify(Omni.errorText(err));
    } finally {
      $("start").disabled = false;
    }
  });

  $("send-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = $("text").value.trim();
    if (!text) return;
    try {
      await conn.call("message", { text: text });
      $("text").value = "";
    } catch (err) {
      Omni.notify(Omni.errorText(err));
    }
  });

  $("leave").addEventListener("click", async () => {
    try { await conn.call("leave", {}); } catch (err) { Omni.notify(Omni.errorText(err)); }
  });

  for (const button of document.querySelectorAll("[data-score]")) {
    button.addEventListener("click", async () => {
      try {
        await conn.call("survey", { score: Number(button.dataset.score) });
        $("survey-done").hidden = false;
        for (const b of document.querySelectorAll("[data-score]")) b.disabled = true;
      } catch (err) {
        Omni.notify(Omni.errorText(err));
      }
    });
  }

  $("again").addEventListener("click", () => { sessionStorage.removeItem(KEY); location.reload(); });

  if (chat && !chat.ended) show("chat-panel");
  else if (chat && chat.ended) { sessionStorage.removeItem(KEY); chat = null; }
})();
