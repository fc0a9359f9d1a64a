# tools/emoji/table.jq — the shortcode table of lib/emoji_table.c, from
# emojibase-data: one line per shortcode, tab-separated:
#
#   CODE  KIND  C-LITERAL  UTF-8
#
# KIND is "base" (a GitHub or Slack shortcode as the data gives it) or
# "tone" (a skin-tone variant made here: NAME_toneN, NAME_toneA-B).
# C-LITERAL is the emoji as the inside of a C string, ASCII only
# (universal character names, \uXXXX / \UXXXXXXXX). Unsorted.
#
# Called as: jq -n -r --slurpfile data en/data.json
#   --slurpfile github en/shortcodes/github.json
#   --slurpfile slack en/shortcodes/iamcal.json -f table.jq

def hex: . as $n
	| if $n == 0 then "0"
	  else [$n | recurse(if . >= 16 then (. / 16 | floor) else empty end) | . % 16]
	       | reverse | map("0123456789ABCDEF"[.:. + 1]) | join("")
	  end;
def pad($w): (($w - length) as $k | if $k > 0 then "0" * $k else "" end) + .;
# C11 6.4.3: no universal character name below U+00A0 (the emoji use
# only digits, '#' and '*' there, all safe inside a string literal).
def cstr: explode | map(if . < 160 then ([.] | implode)
	elif . <= 65535 then "\\u" + (hex | pad(4))
	else "\\U" + (hex | pad(8)) end) | join("");
def names: if type == "array" then .[] else . end;

# hexcode -> emoji, for every emoji and every skin variant
($data[0] | [.[] | ., (.skins // [])[]] | map({(.hexcode): .emoji}) | add) as $emoji
# base shortcodes: GitHub first, then Slack's for names GitHub lacks
| ([ ($github[0], $slack[0]) | to_entries[] | .key as $h
     | .value | names | {code: ., hex: $h} ]
   | reduce .[] as $e ({}; if has($e.code) then . else .[$e.code] = $e.hex end)) as $base
# skin-tone variants: every base name of an emoji that has skins
| ($data[0] | map(select(.skins)) | map({(.hexcode): .skins}) | add) as $skins
| ([ $base | to_entries[] | .key as $code | ($skins[.value] // empty)[]
     | .tone as $t
     | { code: ($code + "_tone" + (if ($t | type) == "array"
                                   then "\($t[0])-\($t[1])" else "\($t)" end)),
         hex: .hexcode } ]
   | map(select(.code as $c | $base | has($c) | not))) as $tones
| ($base | to_entries[] | [.key, "base", ($emoji[.value] | cstr), $emoji[.value]]),
  ($tones[] | [.code, "tone", ($emoji[.hex] | cstr), $emoji[.hex]])
| join("\t")
