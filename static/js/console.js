// The console window: asks the portal for a single-use ticket, opens the websocket, then hands
// it to xterm.js (terminals) or noVNC (graphical). Every ending shows the portal's message for
// its close code. Proxmox is never contacted from here.
const root = document.getElementById("console");
const screen = document.getElementById("console-screen");
const overlay = document.getElementById("console-message");
const kind = root.dataset.kind;
const texts = JSON.parse(document.getElementById("console-texts").textContent);
const messages = JSON.parse(document.getElementById("console-messages").textContent);
const csrf = JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"];
const encoder = new TextEncoder();
let actions = {};

function show(message, { reopen = false } = {}) {
  overlay.replaceChildren();
  const p = document.createElement("p");
  p.textContent = message;
  overlay.append(p);
  if (reopen) {
    const button = document.createElement("button");
    button.className = "btn";
    button.type = "button";
    button.textContent = texts.reopen;
    button.addEventListener("click", () => window.location.reload());
    overlay.append(button);
  }
  overlay.hidden = false;
}

function hide() {
  overlay.hidden = true;
}

async function ticket() {
  const response = await fetch(root.dataset.ticketUrl, {
    method: "POST",
    headers: { "X-CSRFToken": csrf },
    body: new URLSearchParams({ kind }),
    credentials: "same-origin",
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new Error(data.message || messages["1006"]);
  }
  return data;
}

function attachTerminal(ws, { Terminal, FitAddon }) {
  const term = new Terminal({ cursorBlink: true, fontSize: 15, scrollback: 5000,
    fontFamily: "'DejaVu Sans Mono', 'Liberation Mono', monospace" });
  const fit = new FitAddon();
  term.loadAddon(fit);
  term.open(screen);
  fit.fit();
  ws.onmessage = (event) => {
    if (typeof event.data !== "string") {
      term.write(new Uint8Array(event.data));
    }
  };
  term.onData((data) => ws.send(encoder.encode(data)));
  term.onResize(({ cols, rows }) => ws.send(JSON.stringify({ resize: [cols, rows] })));
  ws.send(JSON.stringify({ resize: [term.cols, term.rows] }));
  new ResizeObserver(() => fit.fit()).observe(screen);
  term.focus();
  actions.copy = async () => {
    const selected = term.getSelection();
    if (!selected) {
      show(texts.select_first);
      setTimeout(hide, 1500);
      return;
    }
    await navigator.clipboard.writeText(selected);
  };
  actions.paste = (text) => term.paste(text);
  return term;
}

function attachVnc(ws, { RFB, keysyms }) {
  const rfb = new RFB(screen, ws, { shared: true });
  rfb.scaleViewport = true;
  rfb.background = "#000";
  rfb.focusOnClick = true;
  rfb.addEventListener("connect", () => rfb.focus());
  actions["ctrl-alt-del"] = () => rfb.sendCtrlAltDel();
  // QEMU's display has no clipboard without a guest agent, so pasting types the text.
  actions.paste = (text) => {
    for (const ch of text.replace(/\r\n?/g, "\n")) {
      const keysym = ch === "\n" ? 0xff0d : keysyms.lookup(ch.codePointAt(0));
      rfb.sendKey(keysym, null);
    }
    rfb.focus();
  };
  return rfb;
}

async function libraries() {
  if (kind === "vnc") {
    const [{ default: RFB }, { default: keysyms }] = await Promise.all([
      import("../vendor/novnc-1.7.0/core/rfb.js"), import("../vendor/novnc-1.7.0/core/input/keysymdef.js")]);
    return { RFB, keysyms };
  }
  const [{ Terminal }, { FitAddon }] = await Promise.all([
    import("../vendor/xterm-6.0.0/xterm.mjs"), import("../vendor/xterm-addon-fit-0.11.0/addon-fit.mjs")]);
  return { Terminal, FitAddon };
}

async function connect() {
  show(texts.connecting);
  let libs, data;
  try {
    // The libraries are loaded before the socket opens: the first bytes follow "ready" at once.
    [libs, data] = await Promise.all([libraries(), ticket()]);
  } catch (error) {
    show(error.message, { reopen: true });
    return;
  }
  const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
  const ws = new WebSocket(`${scheme}//${window.location.host}${data.websocket}`);
  ws.binaryType = "arraybuffer";
  ws.onopen = () => ws.send(JSON.stringify({ ticket: data.ticket }));
  ws.onmessage = (event) => {
    if (typeof event.data === "string" && JSON.parse(event.data).type === "ready") {
      hide();
      root.dataset.connected = "1";
      if (kind === "vnc") {
        attachVnc(ws, libs);
      } else {
        attachTerminal(ws, libs);
      }
    }
  };
  ws.addEventListener("close", (event) => {
    root.dataset.connected = "";
    root.dataset.closeCode = String(event.code);
    actions = {};
    show(messages[String(event.code)] || messages["1006"], { reopen: true });
  });
  window.addEventListener("pagehide", () => ws.close(1000));
}

function pasteDialog() {
  const dialog = document.getElementById("paste-dialog");
  const area = dialog.querySelector("textarea");
  area.value = "";
  dialog.showModal();
  dialog.addEventListener("close", () => {
    if (dialog.returnValue === "send" && area.value && actions.paste) {
      actions.paste(area.value);
    }
  }, { once: true });
}

document.querySelectorAll("[data-console-action]").forEach((button) => {
  button.addEventListener("click", async () => {
    const action = button.dataset.consoleAction;
    if (action === "fullscreen") {
      if (document.fullscreenElement) {
        await document.exitFullscreen();
      } else {
        await root.requestFullscreen();
      }
    } else if (action === "paste") {
      pasteDialog();
    } else if (actions[action]) {
      await actions[action]();
    }
  });
});

connect();
