<?php
// How a call's JSON arguments become PHP values, for Events.php and client.php:
// "@me" is the current client's id, {"hex":"…"} is those bytes,
// {"repeat":["x",N]} is str_repeat("x", N) (a big body without a big
// command line), arrays are walked; anything else is itself.
function call_argument($value, ?string $me = null)
{
    if ($value === '@me' && $me !== null) return $me;
    if (is_array($value) && count($value) === 1) {
        if (is_string($value['hex'] ?? null)) return hex2bin($value['hex']);
        $repeat = $value['repeat'] ?? null;
        if (is_array($repeat) && is_string($repeat[0] ?? null) && is_int($repeat[1] ?? null)) return str_repeat($repeat[0], $repeat[1]);
    }
    if (is_array($value)) return array_map(fn ($v) => call_argument($v, $me), $value);
    return $value;
}
