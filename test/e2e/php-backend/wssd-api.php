<?php
// The server API of wssd from PHP, as a PHP backend calls it: one function
// over file_get_contents and a stream context (php-curl is not needed).
// WSSD_API_URL (http://127.0.0.1:PORT) and WSSD_API_KEY say where and how.
declare(strict_types=1);

/**
 * Calls the API; returns [status, body as decoded JSON or as text]. $body
 * is sent as it is when a string (malformed JSON included), as JSON
 * otherwise; $key overrides WSSD_API_KEY ('' sends no Authorization).
 *
 * @return array{int, mixed}
 */
function wssd_api(string $method, string $path, mixed $body = null, ?string $key = null): array
{
    $base = getenv('WSSD_API_URL');
    if ($base === false || $base === '') {
        throw new RuntimeException('WSSD_API_URL is not set');
    }
    $key ??= (string) getenv('WSSD_API_KEY');
    $headers = [];
    if ($key !== '') {
        $headers[] = "Authorization: Bearer $key";
    }
    $content = '';
    if ($body !== null) {
        $content = is_string($body) ? $body : json_encode($body, JSON_UNESCAPED_SLASHES | JSON_THROW_ON_ERROR);
        $headers[] = 'Content-Type: application/json';
    }
    $context = stream_context_create(['http' => [
        'method' => $method,
        'header' => implode("\r\n", $headers),
        'content' => $content,
        // A 4xx or 5xx is an answer to show, not a failure of the call.
        'ignore_errors' => true,
        'timeout' => 10.0,
    ]]);
    $text = @file_get_contents(rtrim($base, '/') . $path, false, $context);
    if ($text === false || !isset($http_response_header[0])) {
        throw new RuntimeException("no answer from $base$path: " . (error_get_last()['message'] ?? 'unknown error'));
    }
    if (preg_match('{^HTTP/\S+ (\d{3})}', $http_response_header[0], $m) !== 1) {
        throw new RuntimeException("not an HTTP status line: {$http_response_header[0]}");
    }
    $decoded = json_decode($text);
    return [(int) $m[1], json_last_error() === JSON_ERROR_NONE ? $decoded : $text];
}
