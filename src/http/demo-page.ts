// The page a plain GET / gets: the classic browser test of a wss service —
// connect to this host's WebSocket URL, send "tom", show what comes back —
// plus a box to send more. Self-contained: no external scripts or styles.

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
  #log { background: #f4f4f4; border: 1px solid #ddd; padding: .5rem; min-height: 8rem; white-space: pre-wrap; font-family: ui-monospace, monospace; font-size: 13px; }
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
<p><small>Served by wssd on ${path === '/' ? 'every path' : path}.</small></p>
</body>
</html>
`;
}

export function htmlResponse(status: number, body: string, contentType = 'text/html; charset=utf-8'): string {
  return (
    `HTTP/1.1 ${status} ${status === 200 ? 'OK' : status === 503 ? 'Service Unavailable' : 'Error'}\r\n` +
    `Content-Type: ${contentType}\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    'Cache-Control: no-store\r\n' +
    'Connection: close\r\n\r\n' +
    body
  );
}
