<?php
// How a call's JSON arguments become PHP values, for Events.php and client.php:
// "@me" is the current client's id, {"hex":"…"} is those bytes, arrays are
// walked; anything else is itself.
function call_argument($value, ?string $me = null)
{
    if ($value === '@me' && $me !== null) return $me;
    if (is_array($value) && count($value) === 1 && isset($value['hex']) && is_string($value['hex'])) return hex2bin($value['hex']);
    if (is_array($value)) return array_map(fn ($v) => call_argument($v, $me), $value);
    return $value;
}
