<?php
// The test application: GatewayWorker's API as a small RPC over the socket.
//
// - onConnect sends "hello:<client_id>".
// - onWebSocketConnect keeps what the upgrade request said (get, cookie,
//   REQUEST_URI, QUERY_STRING, the X-App header) in $_SESSION['ws'], for a
//   client that connected on another path than "/".
// - A message {"call":"NAME","args":[…]} runs GatewayWorker\Lib\Gateway::NAME
//   (args as calls.php reads them: "@me" = this client's id, {"hex":"…"} =
//   bytes…) or one of the app's own calls (run() below), and answers this
//   client {"re":"NAME","r":<result>}.
//   Anything else is answered "echo:<message>".
// - onClose tells group "watchers" "left:<client_id>:<json of $_SESSION>".
// With --events-log, each event is a JSON line: worker, pid, event, client (and session, for close).
use GatewayWorker\Lib\Gateway;

require_once __DIR__ . '/calls.php';

class Events
{
    /** Where events are logged, one JSON line each (null: not logged). */
    public static ?string $log = null;
    /** "name:id" of this BusinessWorker process. */
    private static string $worker = '';
    /** Clients whose ON_CONNECT this process handled. */
    private static array $connected = [];

    public static function onWorkerStart($worker): void
    {
        self::$worker = "{$worker->name}:{$worker->id}";
    }

    public static function onConnect($client_id): void
    {
        self::event('connect', $client_id);
        self::$connected[$client_id] = true;
        Gateway::sendToClient($client_id, "hello:$client_id");
    }

    public static function onWebSocketConnect($client_id, $data): void
    {
        self::event('websocket-connect', $client_id);
        $server = $data['server'];
        if ($server['REQUEST_URI'] === '/') return;
        $_SESSION['ws'] = [
            'get' => $data['get'],
            'cookie' => $data['cookie'],
            'uri' => $server['REQUEST_URI'],
            'query' => $server['QUERY_STRING'],
            'x' => $server['HTTP_X_APP'] ?? null,
        ];
        // The rest of it, for a client that asks for it (its keys in order; no Sec-WebSocket-Key, which is random).
        if (isset($data['get']['all'])) {
            $_SESSION['server'] = array_diff_key($server, ['HTTP_SEC_WEBSOCKET_KEY' => true, 'REMOTE_PORT' => true]);
            $_SESSION['keys'] = array_keys($server);
        }
    }

    public static function onMessage($client_id, $message): void
    {
        self::event('message', $client_id);
        $request = json_decode($message, true);
        if (!is_array($request) || !is_string($request['call'] ?? null)) {
            Gateway::sendToCurrentClient("echo:$message");
            return;
        }
        $call = $request['call'];
        $args = array_map(fn ($a) => call_argument($a, $client_id), $request['args'] ?? []);
        Gateway::sendToCurrentClient(json_encode(['re' => $call, 'r' => self::run($call, $args, $client_id)]));
    }

    public static function onClose($client_id): void
    {
        self::event('close', $client_id, $_SESSION);
        unset(self::$connected[$client_id]);
        Gateway::sendToGroup('watchers', "left:$client_id:" . json_encode($_SESSION));
    }

    private static function run(string $call, array $args, string $client_id)
    {
        switch ($call) {
            case 'sync':
                return null;
            case 'echo':
                return $args[0] ?? null;
            case 'session':
                return $_SESSION;
            case 'sessionBytes':
                // What the Gateway holds, as PHP reads and writes it again: byte for byte, in hex.
                return bin2hex(serialize($_SESSION));
            case 'sessionSet':
                foreach ($args[0] as $key => $value) $_SESSION[$key] = $value;
                return $_SESSION;
            case 'server':
                return ['remote' => $_SERVER['REMOTE_ADDR'], 'gatewayPort' => $_SERVER['GATEWAY_PORT'], 'clientId' => $_SERVER['GATEWAY_CLIENT_ID']];
            case 'stall':
                // A handler that blocks (a slow database, say): this BusinessWorker reads nothing meanwhile.
                usleep((int)$args[0] * 1000);
                return null;
            case 'worker':
                return ['worker' => self::$worker, 'pid' => getmypid(), 'sawConnect' => isset(self::$connected[$client_id])];
        }
        if (!method_exists(Gateway::class, $call)) return "no such call: $call";
        $method = new ReflectionMethod(Gateway::class, $call);
        if (!$method->isPublic() || !$method->isStatic() || $call === 'setBusinessWorker') return "no such call: $call";
        return $method->invokeArgs(null, $args);
    }

    private static function event(string $event, string $client_id, $session = null): void
    {
        if (self::$log === null) return;
        $line = json_encode(['worker' => self::$worker, 'pid' => getmypid(), 'event' => $event, 'client' => $client_id, 'session' => $session]) . "\n";
        file_put_contents(self::$log, $line, FILE_APPEND | LOCK_EX);
    }
}
