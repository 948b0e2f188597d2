"""FastAGI bytes as Asterisk 22.10.1 wrote them, and a model of its argument parser.

``header()`` is a captured agi_* block with a few values changed (channel type PJSIP, a DNID);
``TRANSCRIPT`` pairs our command lines with the exact answers Asterisk gave over two captured
Local-channel calls (every answer is verbatim; their order joins the two calls).
"""

from __future__ import annotations


def header(**overrides: str) -> bytes:
    """The agi_* block a PJSIP call sends, ending in the blank line; overrides replace values."""
    values = {
        "agi_network": "yes",
        "agi_network_script": "ivr?flow=hotline",
        "agi_request": "agi://127.0.0.1:4573/ivr?flow=hotline",
        "agi_channel": "PJSIP/caller-00000001",
        "agi_language": "en",
        "agi_type": "PJSIP",
        "agi_uniqueid": "1700000000.1",
        "agi_version": "22.10.1+dfsg+~cs6.17.60671434-1",
        "agi_callerid": "5551234",
        "agi_calleridname": "Alice",
        "agi_callingpres": "0",
        "agi_callingani2": "0",
        "agi_callington": "0",
        "agi_callingtns": "0",
        "agi_dnid": "12320",
        "agi_rdnis": "unknown",
        "agi_context": "ivr",
        "agi_extension": "12320",
        "agi_priority": "2",
        "agi_enhanced": "0.0",
        "agi_accountcode": "",
        "agi_threadid": "140000000000000",
        "agi_arg_1": "hotline",
        "agi_arg_2": "en",
    }
    values.update(overrides)
    lines = [f"{key}: {value}\n" for key, value in values.items()]
    return "".join(lines).encode() + b"\n"


TRANSCRIPT: list[tuple[bytes, bytes]] = [
    (b"ANSWER\n", b"200 result=0\n"),
    (b'GET VARIABLE "CHANNEL(language)"\n', b"200 result=1 (en)\n"),
    (b'STREAM FILE "no-such-file" ""\n', b"200 result=-1 endpos=0\n"),
    (b'GET DATA "beep" "300" "2"\n', b"200 result= (timeout)\n"),
    (b'WAIT FOR DIGIT "200"\n', b"200 result=0\n"),
    (
        b"DATABASE GET\n",
        b"520-Invalid command syntax.  Proper usage follows:\n"
        b"Retrieves an entry in the Asterisk database for a given <replaceable>family</replaceable>"
        b" and <replaceable>key</replaceable>.\n"
        b"Returns <literal>0</literal> if <replaceable>key</replaceable> is not set. Returns "
        b"<literal>1</literal> if <replaceable>key</replaceable> is set and returns the variable in"
        b" parenthesis.\n"
        b"Example return code: 200 result=1 (testvariable)\n"
        b"520 End of proper usage.\n",
    ),
    (b"FOO BAR\n", b"510 Invalid or unknown command\n"),
    (b'SET VARIABLE "X" "a \\"q\\" b"\n', b"200 result=1\n"),
    (b'GET VARIABLE "X"\n', b'200 result=1 (a "q" b)\n'),
    (b'GET FULL VARIABLE "${X}-${CALLERID(num)}"\n', b'200 result=1 (a "q" b-5551234)\n'),
    (b'EXEC "NoSuchApp"\n', b"200 result=-2\n"),
    (b'GOSUB "sub" "s" "1"\n', b"100 result=0 Trying...\n200 result=0 Gosub complete\n"),
    (b'RECORD FILE "/tmp/rec1" "wav" "#" "500"\n', b"200 result=0 (timeout) endpos=0\n"),
    (b"HANGUP\n", b"200 result=1\nHANGUP\n"),
    (
        b'STREAM FILE "beep" ""\n',
        b"511 Command Not Permitted on a dead channel or intercept routine\n",
    ),
    (b'GET VARIABLE "X"\n', b'200 result=1 (a "q" b)\n'),
]


def asterisk_parse_args(line: str) -> list[str]:
    """res_agi.c parse_args(): spaces/tabs split, '"' toggles quoting, '\\' escapes the next char.

    A quote that opens after whitespace starts a new (possibly empty) word; Asterisk never sees
    the newline, which ends the line before parsing.
    """
    words: list[list[str]] = []
    quoted = escaped = False
    whitespace = True
    for char in line:
        if char == '"' and not escaped:
            quoted = not quoted
            if quoted and whitespace:
                words.append([])
                whitespace = False
            continue
        if char in " \t" and not quoted and not escaped:
            whitespace = True
            continue
        if char == "\\" and not escaped:
            escaped = True
            continue
        if whitespace:
            words.append([])
            whitespace = False
        words[-1].append(char)
        escaped = False
    return ["".join(word) for word in words]
