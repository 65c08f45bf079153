<?php
// php client.php --register HOST:PORT [--secret KEY] --call '{"call":"sendToUid","args":["42","hi"]}'
// A web backend's GatewayClient: one call of GatewayClient\Gateway, its
// result printed as JSON ({"r":…}, or {"error":…} and exit 1). Arguments
// {"hex":"…"} are bytes.
require __DIR__ . '/bootstrap.php';
require peers_dir() . '/vendor/gateway-client/Gateway.php';
require __DIR__ . '/calls.php';

$o = options(['register', 'call'], ['secret']);
GatewayClient\Gateway::$registerAddress = $o['register'];
GatewayClient\Gateway::$secretKey = $o['secret'] ?? '';
$request = json_decode($o['call'], true);
if (!is_array($request) || !is_string($request['call'] ?? null) || !is_callable([GatewayClient\Gateway::class, $request['call']])) {
    echo json_encode(['error' => "not a call: {$o['call']}"]), "\n";
    exit(1);
}
try {
    $result = call_user_func_array([GatewayClient\Gateway::class, $request['call']], array_map('call_argument', $request['args'] ?? []));
    echo json_encode(['r' => $result]), "\n";
} catch (Throwable $e) {
    echo json_encode(['error' => get_class($e) . ': ' . $e->getMessage()]), "\n";
    exit(1);
}
