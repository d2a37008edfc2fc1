#!/usr/bin/env python3
"""Deterministic tokenizer test corpus (>= 1 MB of varied UTF-8 text).

    python3 make_corpus.py OUT_FILE [--size BYTES]

The same seed gives the same bytes on every machine (only `random.Random`
with a fixed seed and fixed word lists are used). Lines mix: prose in many
scripts (Latin with diacritics, Cyrillic, Greek, CJK, Japanese kana, Korean,
Arabic, Hebrew, Devanagari, Thai, Georgian, Armenian, Ethiopic...), source
code, numbers in many digit systems, emoji (ZWJ sequences, flags, skin tones,
keycaps, variation selectors), runs of spaces / tabs / newlines, CRLF,
combining marks, RTL and bidi controls, NBSP, U+2028/U+2029, zero-width
characters, ASCII control characters, contractions in odd cases, literal
special-token strings, and random assigned code points from all planes.
"""
import random
import sys
import unicodedata

SEED = 20261121

PROSE = {
    "en": "The quick brown fox jumps over the lazy dog while the committee's report, which wasn't finished, "
          "described how we'd measure throughput; they'll argue it's fine. I'M SURE YOU'VE SEEN IT'S NOT.",
    "fr": "L'été dernier, nous étions à Besançon où l'on mangeait des crêpes; ça coûtait très cher — déjà 12,50 €.",
    "de": "Größere Übungen für Straßenbahnfahrer: Äpfel, Öl und Müsli gehören zum Frühstück im Spätsommer.",
    "es": "¿Dónde está la biblioteca? ¡Señor, el niño comió piñas y jalapeños en el año pasado!",
    "pl": "Zażółć gęślą jaźń; wszystko płynie, a chrząszcz brzmi w trzcinie w Szczebrzeszynie.",
    "vi": "Tiếng Việt có nhiều dấu thanh: mười, người, được, những, trường học và phở bò.",
    "tr": "İstanbul'da ılık bir akşam; Çağlar ve Şükrü ağaçların gölgesinde oturdular.",
    "ru": "Съешь же ещё этих мягких французских булок, да выпей чаю. Ёжик в тумане шёл домой.",
    "uk": "Ґанок, їжак і європейська ідея: українська мова має літери є, ї, ґ.",
    "el": "Ξεσκεπάζω την ψυχοφθόρα βδελυγμία. Η Ελλάδα έχει πολλά νησιά και ωραίο ήλιο.",
    "zh": "我们今天讨论分词器的性能和正确性。中文没有空格，所以一个词可能很长。北京欢迎你！",
    "zh_tw": "臺灣的繁體字與簡體字不同，例如「電腦」與「电脑」。龘靐齉爩是很難寫的字。",
    "ja": "日本語の文章にはひらがな、カタカナ、漢字が混ざっています。トークナイザーのテストです。ｶﾀｶﾅ半角も。",
    "ko": "한국어 문장은 띄어쓰기를 사용합니다. 토크나이저가 잘 작동하는지 확인해 봅시다.",
    "ar": "مرحبا بالعالم! هذه جملة عربية لاختبار المقسم، وفيها أرقام ١٢٣ وعلامات ترقيم؟",
    "fa": "این یک جملهٔ فارسی است که نیم‌فاصله دارد و اعداد ۱۲۳۴ را هم شامل می‌شود.",
    "he": "שלום עולם! זהו משפט בעברית עם ניקוד: שָׁלוֹם וּבְרָכָה.",
    "hi": "नमस्ते दुनिया! यह हिंदी का वाक्य है जिसमें संख्याएँ १२३ और विराम चिह्न हैं।",
    "bn": "আমি বাংলায় গান গাই। এটি একটি পরীক্ষামূলক বাক্য।",
    "ta": "தமிழ் ஒரு பழமையான மொழி. இது சோதனை வாக்கியம்.",
    "th": "ภาษาไทยไม่มีการเว้นวรรคระหว่างคำ ทำให้การตัดคำเป็นเรื่องยาก",
    "ka": "ქართული ენა ძალიან ლამაზია და აქვს საკუთარი ანბანი.",
    "hy": "Հայերենը ունի իր սեփական այբուբենը։",
    "am": "ሰላም ለዓለም! ይህ የአማርኛ ዓረፍተ ነገር ነው።",
    "my": "မြန်မာဘာသာစကားသည် လှပသည်။",
    "km": "ភាសាខ្មែរគឺជាភាសាផ្លូវការ។",
    "si": "සිංහල භාෂාව ලස්සනයි.",
    "yi": "א ייִדיש זאַץ מיט פּונקטן.",
}

CODE = [
    "def encode(self, text: str) -> list[int]:\n    return [self.vocab[t] for t in text.split()]  # TODO\n",
    "for (size_t i = 0; i < n; ++i) {\n\tif (a[i] != b[i]) return false;\n}\n",
    "{\"model\": {\"type\": \"BPE\", \"vocab\": {\"<unk>\": 0}, \"merges\": [\"Ġ t\", \"i n\"]}}\n",
    "SELECT id, name FROM users WHERE created_at >= '2024-01-01' AND status <> 'deleted';\r\n",
    "#include <vector>\nint main(int argc, char** argv) { std::vector<int> v{1,2,3}; return v.size() - 3; }\n",
    "    if x == 0x7fffffff || y <= -1e-9 { panic!(\"overflow: {:?}\", x); }\n",
    "<html><body class=\"main\"><p>Hello &amp; welcome&nbsp;&mdash;</p></body></html>\n",
    "$ grep -rn 'foo\\|bar' ./src | awk '{print $1}' > /tmp/out.txt 2>&1\n",
    "const re = /[\\p{L}\\p{N}]+/gu; let s = `${a}-${b}`; console.log(s?.length ?? 0);\n",
    "    \"\"\"Docstring with    multiple   spaces.\"\"\"\n        pass\n\n\n",
]

EMOJI = [
    "😀", "😂", "🥹", "🤖", "🚀", "🔥", "💯", "🎉", "🧠", "🐍", "🦀", "🌍", "❤️", "✔️", "☕", "✨",
    "👨\u200d👩\u200d👧\u200d👦", "👩\u200d💻", "🏳️\u200d🌈", "🧑🏽\u200d🚀", "👍🏻", "👍🏽", "👍🏿",
    "🇺🇸", "🇯🇵", "🇫🇷", "🇺🇦", "🏴\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f",
    "1️⃣", "#️⃣", "©️", "™", "🫠", "🫡", "🙋\u200d♀️",
]

NUMBERS = [
    "0", "7", "42", "123", "1234", "12345", "3.14159", "2,718.28", "-0.001", "1e10", "6.02e23", "1_000_000",
    "0xDEADBEEF", "192.168.0.1", "2026-11-21", "12:34:56", "+1 (555) 010-9999", "99.9%", "$1,299.00",
    "٠١٢٣٤٥٦٧٨٩", "۰۱۲۳", "०१२३४", "১২৩", "๑๒๓", "１２３４５", "²³", "½", "¾", "Ⅻ", "ⅷ", "⑩", "𝟙𝟚𝟛",
    "123456789012345678901234567890",
]

WEIRD = [
    "e\u0301", "a\u0308\u0304", "n\u0303", "Z\u0351\u0352\u0353\u0354a\u035c\u035dl\u0360g\u0361o\u0362",
    "\u1100\u1161\u11a8", "\u110b\u1173\u11af", "A\u030a", "\u212b", "\u2126", "\uff21\uff22", "ﬁ", "ﬀ",
    "\u200f", "\u200e", "\u202e", "\u202c", "\u2066", "\u2069", "\u061c",
    "\u00a0", "\u2007", "\u202f", "\u2028", "\u2029", "\u3000", "\u1680", "\u2003", "\u0085",
    "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad",
    "\x00", "\x01", "\x07", "\x08", "\x0b", "\x0c", "\x1b", "\x1f", "\x7f",
    "\ufffd", "\U0001d11e", "\U00020000", "\U0002a6d6", "\ue000", "\U000f0000",
    "'s", "'S", "'T", "'Re", "'VE", "'lL", "'D", "'M", "'ſ", "''s", "'x", "’s",
    "don't", "DON'T", "I'm", "you're", "we've", "they'll", "she'd", "it's", "Rock'n'roll",
]

SPECIAL_STRINGS = [
    "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<s>", "</s>", "<unk>", "[INST]", "[/INST]",
    "<|begin_of_text|>", "<|eot_id|>", "<｜begin▁of▁sentence｜>", "<|im_start|>user\nhi<|im_end|>",
    "<<SYS>>", "<0x0A>", "▁", "▁▁hello",
]

WS = [" ", "  ", "   ", "    ", "        ", "\t", "\t\t", " \t ", "\n", "\n\n", "\n\n\n", "\r\n", "\r\n\r\n",
      " \n", "\n ", "  \n  ", "\r", " \r\n ", "\t\n", "\u00a0\u00a0", " \u3000 "]


def random_assigned_char(rng):
    planes = [(0x20, 0x2FFF), (0x3000, 0xD7FF), (0xF900, 0xFFFD), (0x10000, 0x1FAFF), (0x20000, 0x2FA1F)]
    while True:
        lo, hi = rng.choice(planes)
        cp = rng.randint(lo, hi)
        cat = unicodedata.category(chr(cp))
        if cat not in ("Cn", "Cs", "Co"):
            return chr(cp)


def words(text):
    return text.split(" ")


def prose_line(rng):
    lang = rng.choice(list(PROSE))
    ws = words(PROSE[lang])
    start = rng.randrange(len(ws))
    n = rng.randint(3, 25)
    out = " ".join(ws[(start + i) % len(ws)] for i in range(n))
    if rng.random() < 0.3:
        out = out.upper() if rng.random() < 0.5 else out.capitalize()
    return out


def mixed_line(rng):
    parts = []
    for _ in range(rng.randint(2, 14)):
        r = rng.random()
        if r < 0.35:
            parts.append(prose_line(rng))
        elif r < 0.45:
            parts.append(rng.choice(NUMBERS))
        elif r < 0.55:
            parts.append(rng.choice(EMOJI) * rng.randint(1, 3))
        elif r < 0.65:
            parts.append(rng.choice(WEIRD))
        elif r < 0.72:
            parts.append(rng.choice(SPECIAL_STRINGS))
        elif r < 0.80:
            parts.append("".join(random_assigned_char(rng) for _ in range(rng.randint(1, 6))))
        elif r < 0.86:
            parts.append(rng.choice("!?.,;:-()[]{}\"'`~@#$%^&*_+=|\\/<>…—–«»“”‘’¿¡§¶•·°±×÷"))
        else:
            parts.append(rng.choice(WS))
        parts.append(rng.choice([" ", " ", " ", "", "\t", "  ", rng.choice(WS)]))
    return "".join(parts)


def make(size):
    rng = random.Random(SEED)
    chunks = []
    total = 0
    while total < size:
        r = rng.random()
        if r < 0.45:
            s = prose_line(rng) + rng.choice(["\n", "\n", "\n\n", "\r\n", " \n"])
        elif r < 0.60:
            s = rng.choice(CODE)
        elif r < 0.95:
            s = mixed_line(rng) + "\n"
        else:
            s = rng.choice(WS) * rng.randint(1, 40) + "\n"
        chunks.append(s)
        total += len(s.encode("utf-8"))
    return "".join(chunks)


def main():
    out = sys.argv[1]
    size = 1_100_000
    if "--size" in sys.argv:
        size = int(sys.argv[sys.argv.index("--size") + 1])
    text = make(size)
    with open(out, "w", encoding="utf-8", newline="") as f:
        f.write(text)


if __name__ == "__main__":
    main()
