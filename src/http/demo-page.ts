// The page a plain GET / gets: the classic browser test of a wss service —
// connect to this host's WebSocket URL, send "tom", show what comes back —
// plus a box to send more; and below it a live console built on the client
// (/wssd-client.js): connect with a token, subscribe, publish, see who is
// there, and watch a subscription resume when the server goes and comes back.
// Nothing from elsewhere: the page and the client are all it loads.

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** `wsPath`: where the page connects (the first served path, e.g. /wss). */
export function demoPage(wsPath: string): string {
  const path = escapeHtml(wsPath);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>wssd — WebSocket test</title>
<style>
  body { font: 15px/1.5 system-ui, sans-serif; max-width: 44rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
  h1 { font-size: 1.3rem; }
  #status { font-weight: 600; }
  .ok { color: #17692b; } .bad { color: #a11; }
  #log, #c-log { background: #f4f4f4; border: 1px solid #ddd; padding: .5rem; min-height: 8rem; white-space: pre-wrap; font-family: ui-monospace, monospace; font-size: 13px; }
  form { display: flex; gap: .5rem; margin: 1rem 0; } input { flex: 1; padding: .3rem; }
</style>
</head>
<body>
<h1>wssd WebSocket test</h1>
<p>Connecting to <code id="url"></code>: <span id="status">connecting…</span></p>
<p>Sent <code>tom</code>, received: <code id="reply">(nothing yet)</code></p>
<form id="form"><input id="text" value="hello" aria-label="message"><button>Send</button></form>
<div id="log" role="log"></div>
<script>
(function () {
  var scheme = location.protocol === 'https:' ? 'wss://' : 'ws://';
  var url = scheme + location.host + ${JSON.stringify(wsPath)};
  var log = document.getElementById('log');
  var status = document.getElementById('status');
  document.getElementById('url').textContent = url;
  function line(s) { log.textContent += s + '\\n'; }
  var ws = new WebSocket(url);
  var first = true;
  ws.onopen = function () { status.textContent = 'open'; status.className = 'ok'; ws.send('tom'); line('> tom'); };
  ws.onmessage = function (e) {
    var text = typeof e.data === 'string' ? e.data : '[binary ' + (e.data.size || e.data.byteLength) + ' bytes]';
    if (first) { document.getElementById('reply').textContent = text; first = false; }
    line('< ' + text);
  };
  ws.onerror = function () { status.textContent = 'error'; status.className = 'bad'; };
  ws.onclose = function (e) { status.textContent = 'closed (' + e.code + ')'; status.className = e.code === 1000 ? '' : 'bad'; };
  document.getElementById('form').onsubmit = function (e) {
    e.preventDefault();
    var v = document.getElementById('text').value;
    if (ws.readyState === 1) { ws.send(v); line('> ' + v); }
  };
})();
</script>
<h2>Console (wssd.v1)</h2>
<p>The client of <code>/wssd-client.js</code> on the same URL. Topics under <code>demo:</code> are open to it while this page is on;
a token (<code>?token=</code>) names the user and what else it may do. Stop and start the server: the client reconnects and resumes.</p>
<form id="c-form"><input id="c-token" placeholder="token (optional)" aria-label="token"><button id="c-connect">Connect</button></form>
<p>State: <span id="c-state">disconnected</span></p>
<form id="c-sub"><input id="c-topic" value="demo:chat" aria-label="topic"><button>Subscribe</button><button type="button" id="c-presence">Who is there</button></form>
<form id="c-pub"><input id="c-message" value="hello" aria-label="publication"><button>Publish</button></form>
<div id="c-log" role="log"></div>
<script type="module">
  import { WssdClient } from '/wssd-client.js';
  const $ = (id) => document.getElementById(id);
  const log = (s) => { $('c-log').textContent += s + '\\n'; };
  const url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + ${JSON.stringify(wsPath)};
  let client;
  $('c-form').onsubmit = (e) => {
    e.preventDefault();
    client?.disconnect();
    const token = $('c-token').value.trim();
    client = new WssdClient(url, token === '' ? {} : { token });
    for (const name of ['connecting', 'connected', 'disconnected']) client.on(name, (info) => { $('c-state').textContent = name; log('* ' + name + (info && info.code ? ' (' + info.code + ' ' + info.reason + ')' : '')); });
    client.on('message', (m) => log('message: ' + (typeof m === 'string' ? m : JSON.stringify(m))));
    client.on('error', (e) => log('! ' + (e.code || '') + ' ' + e.message));
    client.connect();
  };
  $('c-sub').onsubmit = (e) => {
    e.preventDefault();
    const topic = $('c-topic').value;
    client?.subscribe(topic, {
      presence: true,
      onPublication: (p) => log('< ' + p.topic + (p.offset ? ' #' + p.offset : '') + ': ' + (typeof p.data === 'string' ? p.data : '[' + p.data.length + ' bytes]')),
      onSubscribed: (r) => log('* subscribed to ' + topic + (r.replayed ? ', ' + r.replayed + ' replayed' : '') + (r.recovered === false ? ' (not recovered: ' + r.reason + ')' : '')),
      onGap: (g) => log('! gap in ' + g.topic + ': ' + g.reason),
      onJoin: (m) => log('+ ' + (m.user || m.client) + ' joined ' + m.topic),
      onLeave: (m) => log('- ' + (m.user || m.client) + ' left ' + m.topic),
      onError: (e) => log('! ' + topic + ': ' + e.code + ' ' + e.message),
    });
  };
  $('c-pub').onsubmit = (e) => {
    e.preventDefault();
    client?.publish($('c-topic').value, $('c-message').value).catch((err) => log('! publish: ' + err.code + ' ' + err.message));
  };
  $('c-presence').onclick = () => {
    client?.presence($('c-topic').value).then((p) => log('* ' + p.total + ' in ' + $('c-topic').value + ': ' + p.members.map((m) => m.user || m.client).join(', ')), (err) => log('! presence: ' + err.code + ' ' + err.message));
  };
</script>
<p><small>Served by wssd on ${path === '/' ? 'every path' : path}.</small></p>
</body>
</html>
`;
}

export function htmlResponse(status: number, body: string, contentType = 'text/html; charset=utf-8', extraHeaders = ''): string {
  return (
    `HTTP/1.1 ${status} ${status === 200 ? 'OK' : status === 503 ? 'Service Unavailable' : 'Error'}\r\n` +
    `Content-Type: ${contentType}\r\n` +
    extraHeaders +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    'Cache-Control: no-store\r\n' +
    'Connection: close\r\n\r\n' +
    body
  );
}
