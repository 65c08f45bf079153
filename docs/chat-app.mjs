// A chat room for wssd: every text message goes to everyone connected.
//   node dist/server.js --app docs/chat-app.mjs
// A --app module exports a function (default, or `onConnection`) that gets
// each connection, its upgrade request, and the server (for broadcast).
export default function onConnection(ws, request, server) {
  const name = `${request.remoteAddress}:${request.remotePort}`;
  const broadcast = (text) => {
    for (const peer of server.connections) peer.send(text);
  };
  broadcast(`* ${name} joined (${server.connections.size} here)`);
  ws.on('message', (data, isBinary) => {
    if (isBinary) return ws.close(1003, 'text only');
    broadcast(`${name}: ${data}`);
  });
  ws.on('close', () => broadcast(`* ${name} left`));
}
