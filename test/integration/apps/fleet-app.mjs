// An --app for the fleet tests: a connection to /?user=U is bound to user U,
// greets with its client id and process, and obeys text commands naming the
// fleet's verbs, each answered with one "ok …" JSON line:
//   send user|client ID TEXT        sub user|client ID TOPIC       unsub …
//   kick user|client ID             who USER                       presence TOPIC [AFTER [LIMIT]]
//   join TOPIC                      nodes                          publish TOPIC TEXT
// Presence events of its topics come as "presence {json}".
export function onConnection(ws, request, server) {
  const user = new URLSearchParams(request.query).get('user');
  if (user !== null) ws.setUser(user);
  ws.on('presence', (topic, event) => ws.send(`presence ${JSON.stringify({ topic, ...event })}`));
  ws.send(`hello ${JSON.stringify({ client: ws.id, node: server.node, pid: process.pid })}`);
  ws.on('message', async (data) => {
    const [verb, a, b, ...rest] = String(data).split(' ');
    const target = a === 'user' ? { user: b } : { client: b };
    const ok = (value) => ws.send(`ok ${JSON.stringify(value ?? null)}`);
    switch (verb) {
      case 'send':
        return ok(server.send(target, rest.join(' ')));
      case 'sub':
        return ok(server.subscribe(target, rest[0]));
      case 'unsub':
        return ok(server.unsubscribe(target, rest[0]));
      case 'kick':
        return ok(server.disconnect(target));
      case 'who':
        return ok(await server.userConnections(a));
      case 'presence':
        return ok(await server.presence(a, { after: b, limit: rest[0] === undefined ? undefined : Number(rest[0]) }));
      case 'join':
        return ok(ws.subscribe(a));
      case 'nodes':
        return ok(await server.nodes());
      case 'publish':
        return ok(server.publish(a, [b, ...rest].join(' ')));
      default:
        return ok({ error: `unknown ${verb}` });
    }
  });
}
