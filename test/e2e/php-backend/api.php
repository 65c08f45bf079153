<?php
// `php api.php METHOD PATH [BODY]`: a PHP backend driving wssd through its
// server API (wssd-api.php). Prints one line of JSON, {"status", "body"};
// exits 1 when no answer came at all. BODY is sent as it is (JSON or not).
declare(strict_types=1);

require __DIR__ . '/wssd-api.php';

if ($argc < 3 || $argc > 4) {
    fwrite(STDERR, "usage: php api.php METHOD PATH [BODY]\n");
    exit(2);
}
try {
    [$status, $body] = wssd_api($argv[1], $argv[2], $argv[3] ?? null);
} catch (RuntimeException $e) {
    fwrite(STDERR, 'api.php: ' . $e->getMessage() . "\n");
    exit(1);
}
echo json_encode(['status' => $status, 'body' => $body], JSON_UNESCAPED_SLASHES), "\n";
