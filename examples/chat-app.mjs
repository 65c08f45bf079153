// A chat for wssd, on topics: rooms from the URL (wss://host/wss?room=lobby),
// join and leave notices, and private messages through a per-user topic
// ("/msg NAME text", the GatewayWorker sendToUid pattern). It works the same
// with one process and with --workers N: topics cross between the workers.
//   node dist/server.js --app examples/chat-app.mjs [--workers 4]
// A --app module exports a function (default, or `onConnection`) that gets
// each connection, its upgrade request, and the server.
export default function onConnection(ws, request, server) {
  const room = new URLSearchParams(request.query).get('room') || 'lobby';
  if (room.length > 64) return ws.close(1008, 'room name too long');
  const name = `${request.remoteAddress}:${request.remotePort}`;
  const roomTopic = `room:${room}`;
  ws.subscribe(roomTopic);
  ws.subscribe(`user:${name}`);
  // The count over every worker, so the notice is right with --workers too.
  void server.totalSubscriberCount(roomTopic).then((n) => server.publish(roomTopic, `* ${name} joined ${room} (${n} here)`));
  ws.on('message', (data, isBinary) => {
    if (isBinary) return ws.close(1003, 'text only');
    const direct = /^\/msg (\S+) ([^]*)$/.exec(data);
    if (direct !== null) {
      server.publish(`user:${direct[1]}`, `${name} (privately): ${direct[2]}`);
      return;
    }
    // Everyone in the room but the sender, who shows its own message itself.
    ws.publish(roomTopic, `${name}: ${data}`);
  });
  ws.on('close', () => server.publish(roomTopic, `* ${name} left ${room}`));
}
