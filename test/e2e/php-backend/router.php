<?php
// A PHP backend for wssd, written the way a PHP shop would write one, for
// `PHP_CLI_SERVER_WORKERS=4 php -S 127.0.0.1:PORT router.php` (four workers,
// so that one sleeping request does not hold the others up). The e2e tests
// (test/e2e/gateway-php-*.test.ts) start it with its settings in the
// environment:
//   JWT_SECRET       the HS256 secret wssd knows (--jwt-secret)
//   JWT_PRIVATE_KEY  a PEM RSA private key for RS256; JWT_PUBLIC_KEY its public key
//   EVENTS_SECRET    the key of X-Wssd-Signature (--events-secret)
//   STATE_DIR        where the logs and counters go (events.log, attempts.log…)
//
// One worker of `php -S` serves one request at a time, and may have accepted
// a second connection before it starts on the first: a test that wants a
// request served while another sleeps sends it once the sleeper is logged
// (connect.log, message.log, attempts.log are written before any sleep).
//   WSSD_API_URL, WSSD_API_KEY  the server API, for "push:USER:TEXT"
//   SLOW_MS, HANG_MS how long the slow and hanging modes sleep
//
// Endpoints:
//   GET  /token?user=&topics=a,b&exp=SECONDS|none&alg=HS256|RS256|none&key=secret|other|public&pad=N
//   POST /connect   the connect proxy: a session cookie "s-USER" → {user, topics, info};
//                   none → {refuse: 403 "login first"}; the client's ?mode=slow|500 too
//   POST /events    backend events: the signature checked, good batches appended to
//                   events.log; ?fail=N: the first N requests get 500; ?hang=N: the first
//                   N sleep HANG_MS and are not taken
//   POST /message   the message proxy: "echo:" + data, "whoami", "slow", "quiet" (204),
//                   binary reversed, "push:USER:TEXT" (calls /api/send, answers "pushed")
declare(strict_types=1);

require __DIR__ . '/wssd-api.php';

function setting(string $name): string
{
    $value = getenv($name);
    if ($value === false || $value === '') {
        reply(500, "router.php: $name is not set\n", 'text/plain');
    }
    return $value;
}

function reply(int $status, string $body, string $type): never
{
    http_response_code($status);
    header("Content-Type: $type");
    echo $body;
    exit;
}

function reply_json(mixed $value): never
{
    reply(200, json_encode($value, JSON_UNESCAPED_SLASHES | JSON_THROW_ON_ERROR), 'application/json');
}

function state_file(string $name): string
{
    return setting('STATE_DIR') . '/' . $name;
}

/** One line to a log of STATE_DIR: whole lines, whichever worker writes. */
function log_line(string $name, mixed $value): void
{
    file_put_contents(state_file($name), json_encode($value, JSON_UNESCAPED_SLASHES | JSON_THROW_ON_ERROR) . "\n", FILE_APPEND | LOCK_EX);
}

/** The how-manieth request counted under $name this is (1, 2…), over every worker. */
function count_request(string $name): int
{
    $handle = fopen(state_file("$name.count"), 'c+');
    flock($handle, LOCK_EX);
    $n = (int) stream_get_contents($handle) + 1;
    ftruncate($handle, 0);
    rewind($handle);
    fwrite($handle, (string) $n);
    fflush($handle);
    flock($handle, LOCK_UN);
    fclose($handle);
    return $n;
}

function sleep_ms(string $setting): void
{
    usleep(1000 * (int) setting($setting));
}

function base64url(string $bytes): string
{
    return rtrim(strtr(base64_encode($bytes), '+/', '-_'), '=');
}

/** A JWT as a PHP backend mints one: HS256 with hash_hmac, RS256 with openssl_sign. */
function token(): never
{
    $alg = $_GET['alg'] ?? 'HS256';
    $claims = ['iat' => time()];
    if (isset($_GET['user'])) {
        $claims['sub'] = $_GET['user'];
    }
    $exp = $_GET['exp'] ?? '3600';
    if ($exp !== 'none') {
        $claims['exp'] = time() + (int) $exp;
    }
    if (($_GET['topics'] ?? '') !== '') {
        $claims['topics'] = explode(',', $_GET['topics']);
    }
    $claims['info'] = ['issuer' => 'php'];
    if (isset($_GET['pad'])) {
        $claims['info']['pad'] = str_repeat('x', (int) $_GET['pad']);
    }
    $input = base64url(json_encode(['alg' => $alg, 'typ' => 'JWT'])) . '.' . base64url(json_encode($claims, JSON_UNESCAPED_SLASHES));
    switch ($alg) {
        case 'HS256':
            $secret = match ($_GET['key'] ?? 'secret') {
                'secret' => setting('JWT_SECRET'),
                // A forger's guess.
                'other' => 'not-the-secret-' . bin2hex(random_bytes(8)),
                // Algorithm confusion: the public key's PEM, which anyone may read, as the HMAC secret.
                'public' => (string) file_get_contents(setting('JWT_PUBLIC_KEY')),
            };
            $signature = hash_hmac('sha256', $input, $secret, true);
            break;
        case 'RS256':
            $key = openssl_pkey_get_private((string) file_get_contents(setting('JWT_PRIVATE_KEY')));
            if ($key === false || !openssl_sign($input, $signature, $key, OPENSSL_ALGO_SHA256)) {
                reply(500, 'openssl_sign failed: ' . openssl_error_string() . "\n", 'text/plain');
            }
            break;
        case 'none':
            $signature = '';
            break;
        default:
            reply(400, "unknown alg\n", 'text/plain');
    }
    reply(200, $input . '.' . base64url($signature), 'text/plain');
}

/** The connect proxy: who the client is, from its session cookie. */
function connect(): never
{
    $request = json_decode((string) file_get_contents('php://input'), true, 16, JSON_THROW_ON_ERROR);
    log_line('connect.log', $request);
    parse_str((string) ($request['query'] ?? ''), $query);
    $mode = $query['mode'] ?? '';
    if ($mode === 'slow') {
        sleep_ms('SLOW_MS');
    } elseif ($mode === '500') {
        reply(500, "the session store is down\n", 'text/plain');
    }
    $cookies = [];
    foreach (explode(';', (string) ($request['headers']['cookie'] ?? '')) as $pair) {
        $parts = explode('=', trim($pair), 2);
        if (count($parts) === 2) {
            $cookies[$parts[0]] = urldecode($parts[1]);
        }
    }
    $session = $cookies['session'] ?? null;
    if ($session === null) {
        reply_json(['refuse' => ['status' => 403, 'reason' => 'login first']]);
    }
    if (preg_match('/^s-([A-Za-z0-9_-]{1,64})$/', $session, $m) !== 1) {
        reply_json(['refuse' => ['status' => 401, 'reason' => 'unknown session']]);
    }
    $user = $m[1];
    reply_json(['user' => $user, 'topics' => ["user:$user", 'lobby'], 'info' => ['name' => "User $user", 'via' => 'php-connect']]);
}

/** Backend events: taken only with a good signature, and logged in the order they came. */
function events(): never
{
    $body = (string) file_get_contents('php://input');
    $batch = json_decode($body, true)['batch'] ?? null;
    $given = $_SERVER['HTTP_X_WSSD_SIGNATURE'] ?? '';
    $expected = 'sha256=' . hash_hmac('sha256', $body, setting('EVENTS_SECRET'));
    if (!hash_equals($expected, $given)) {
        log_line('attempts.log', ['batch' => $batch, 'answer' => 401]);
        reply(401, "bad signature\n", 'text/plain');
    }
    $n = count_request('events');
    if ($n <= (int) ($_GET['fail'] ?? 0)) {
        log_line('attempts.log', ['batch' => $batch, 'answer' => 500]);
        reply(500, "not now\n", 'text/plain');
    }
    if ($n <= (int) ($_GET['hang'] ?? 0)) {
        log_line('attempts.log', ['batch' => $batch, 'answer' => 'hang']);
        sleep_ms('HANG_MS');
        reply(503, "too late\n", 'text/plain');
    }
    log_line('attempts.log', ['batch' => $batch, 'answer' => 200]);
    log_line('events.log', json_decode($body, false, 64, JSON_THROW_ON_ERROR));
    reply(200, '', 'text/plain');
}

/** The message proxy: each client message, and what goes back to that client. */
function message(): never
{
    $message = json_decode((string) file_get_contents('php://input'), true, 16, JSON_THROW_ON_ERROR);
    log_line('message.log', $message);
    if (isset($message['data_base64'])) {
        $bytes = base64_decode($message['data_base64'], true);
        reply(200, strrev((string) $bytes), 'application/octet-stream');
    }
    $data = (string) $message['data'];
    if ($data === 'whoami') {
        reply(200, 'user:' . ($message['user'] ?? '(anonymous)'), 'text/plain');
    }
    if ($data === 'slow') {
        sleep_ms('SLOW_MS');
        reply(200, 'late', 'text/plain');
    }
    if ($data === 'quiet') {
        http_response_code(204);
        exit;
    }
    if (preg_match('/^push:([^:]+):(.*)$/s', $data, $m) === 1) {
        [$status] = wssd_api('POST', '/api/send', ['user' => $m[1], 'data' => $m[2]]);
        reply(200, $status === 200 ? 'pushed' : "push failed with $status", 'text/plain');
    }
    reply(200, "echo:$data", 'text/plain');
}

$path = parse_url($_SERVER['REQUEST_URI'], PHP_URL_PATH);
$method = $_SERVER['REQUEST_METHOD'];
match (true) {
    $path === '/token' && $method === 'GET' => token(),
    $path === '/connect' && $method === 'POST' => connect(),
    $path === '/events' && $method === 'POST' => events(),
    $path === '/message' && $method === 'POST' => message(),
    default => reply(404, "no such endpoint: $method $path\n", 'text/plain'),
};
