#!/usr/bin/env python3
"""Emulates llama.cpp's unicode_regex_split: each pre-tokenizer's pattern list
applied fragment by fragment; patterns with \p{..} classes run on "collapsed"
text (one byte per code point standing for its category) with C-locale \s,
the others on code points with non-ASCII spaces made vertical tabs, and GPT-2's
pattern, which llama.cpp splits by hand, as a regular expression. Writes
random cases and their splits to emu.json; TestPreTokenizersLlamaCpp holds a
selection. Needs the `regex` module."""
import regex, unicodedata, json, random
UCAT = {r"\p{N}":"N", r"\p{L}":"L", r"\p{P}":"P", r"\p{M}":"M", r"\p{S}":"S", r"\p{Lu}":"L", r"\p{Ll}":"L", r"\p{Lt}":"L", r"\p{Lm}":"L", r"\p{Lo}":"L"}
CPT = {"N":"\xd1","L":"\xd2","P":"\xd3","M":"\xd4","S":"\xd5"}
MAP = {"N":"\x30-\x39","L":"\x41-\x5A\x61-\x7A","P":"\x21-\x23\x25-\x2A\x2C-\x2F\x3A-\x3B\x3F-\x40\\\x5B-\\\x5D\x5F\\\x7B\\\x7D","M":"","S":"\\\x24\\\x2B\x3C-\x3E\x5E\x60\\\x7C"}
WS = set([9,10,11,12,13,32,0x85,0xa0,0x1680]+list(range(0x2000,0x200b))+[0x2028,0x2029,0x202f,0x205f,0x3000])
def cat(cp):
    c = unicodedata.category(chr(cp))[0]
    return {"N":"N","L":"L","P":"P","M":"M","S":"S"}.get(c)
def collapse_text(s):
    out=[]
    for ch in s:
        cp=ord(ch)
        if cp<128: out.append(ch); continue
        if cp in WS: out.append("\x0b"); continue
        c=cat(cp)
        out.append(CPT[c] if c else "\xd0")
    return "".join(out)
def collapse_regex(r):
    out=""; inside=False; i=0
    while i < len(r):
        if r[i]=='[' and (i==0 or r[i-1]!='\\'):
            out+='['; inside=True; i+=1; continue
        if inside and r[i]==']' and r[i-1]!='\\':
            out+=']'; inside=False; i+=1; continue
        if r[i]=='\\' and i+3 < len(r) and r[i+1]=='p' and r[i+2]=='{':
            cb = r.find('}', i+3)
            if cb!=-1 and cb <= i+10:
                pat=r[i:cb+1]
                if pat in UCAT:
                    c=UCAT[pat]
                    out += ('' if inside else '[') + CPT[c] + MAP[c] + ('' if inside else ']')
                    i=cb+1; continue
        out+=r[i]; i+=1
    return out
def uses_cat(r): return any(k in r for k in UCAT)
# C isspace semantics for \s: replace \s with [\t\n\v\f\r ] in collapsed (Python \s would match \x1c-\x1f and \xa0 etc.)
def fix_s(r):
    out=""; inside=False; i=0
    while i < len(r):
        c=r[i]
        if c=='\\' and i+1 < len(r):
            n=r[i+1]
            if n=='s':
                out += (r"\t\n\x0b\x0c\r " if inside else r"[\t\n\x0b\x0c\r ]"); i+=2; continue
            if n=='S':
                assert not inside
                out += r"[^\t\n\x0b\x0c\r ]"; i+=2; continue
            out += c+n; i+=2; continue
        if c=='[' : inside=True
        elif c==']' and inside: inside=False
        out+=c; i+=1
    return out
def split(text, regexes):
    col = collapse_text(text)
    wtext = "".join("\x0b" if (ord(ch)>0x7f and ord(ch) in WS) else ch for ch in text)
    offs=[len(text)]
    for r in regexes:
        if r == GPT2 or r.startswith("RAW:"):
            src = text; rx = regex.compile(r.removeprefix("RAW:"))
        elif uses_cat(r):
            src = col; rx = regex.compile(fix_s(collapse_regex(r)), flags=regex.V0)
        else:
            src = wtext; rx = regex.compile(fix_s(r))
        new=[]; start=0
        for o in offs:
            frag = src[start:start+o]
            last=0
            for m in rx.finditer(frag):
                if m.start()>last: new.append(m.start()-last)
                new.append(m.end()-m.start()); last=m.end()
            if last<o: new.append(o-last)
            start+=o
        offs=new
    words=[]; st=0
    for o in offs: words.append(text[st:st+o]); st+=o
    return words
GPT2 = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)"
# The Han blocks of llama.cpp's unicode_cpt_is_han; Kimi-K2's splitter is
# hand-written there, so it is emulated by the regex it implements.
HAN = "\u4e00-\u9fff\u3400-\u4dbf\U00020000-\U0002a6df\U0002a700-\U0002b73f\U0002b740-\U0002b81f\U0002b820-\U0002ceaf\U0002ceb0-\U0002ebef\uf900-\ufaff\U0002f800-\U0002fa1f"
CS = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])"
PATS = {
 "qwen2": [CS + "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"],
 "deepseek-coder": ["[\r\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", "[一-龥ࠀ-一가-퟿]+", "\\p{N}"],
 "deepseek-v3": ["\\p{N}{1,3}", "[一-龥぀-ゟ゠-ヿ]+", "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+|[^\r\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+| ?[\\p{P}\\p{S}]+[\r\n]*|\\s*[\r\n]+|\\s+(?!\\S)|\\s+"],
 "default": ["[\\p{P}\\$\\+<=>\\^~\\|]+", GPT2, "\\p{N}+", "[0-9][0-9][0-9]"],
 "falcon": ["[\\p{P}\\$\\+<=>\\^~\\|`]+", GPT2, "[0-9][0-9][0-9]"],
 "starcoder": ["\\p{N}", GPT2],
 "qwen35": [CS + "|[^\\r\\n\\p{L}\\p{N}]?[\\p{L}\\p{M}]+|\\p{N}| ?[^\\s\\p{L}\\p{M}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"],
 "seed-coder": [CS + "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1}| ?[^\\s\\p{L}\\p{N}\\r\\n]+|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"],
 "bailingmoe": ["'(?:[sSdDmMtT]|[lL][lL]|[vV][eE]|[rR][eE])|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]|\\s+(?!\\S)|\\s+"],
 "bloom": [" ?[^(\\s|.,!?…。，、।۔،)]+"],
 "viking": [" ?[^(\\s|.,!?…。，、।۔،)]+", "\\p{N}"],
 "deepseek-llm": ["[\r\n]", "\\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-\u1f7dᾀ-ᾴᾶ-ᾼ\u1fbeῂ-ῄῆ-ῌῐ-\u1fd3ῖ-\u1fdbῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤ\u2126ℨ\u212a-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃]+", "\\s?[!-/:-~！-／：-～‘-‟　-。]+", "\\s+$", "[一-龥ࠀ-一가-퟿]+", "\\p{N}+"],
 "exaone-moe": [CS + "|[^\\r\\n\\p{L}\\p{N}]?(?:\\p{L}\\p{M}*(?: \\p{L}\\p{M}*)*)+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]?|\\s*[\\r\\n]|\\s+(?!\\S)|\\s+"],
 "jais-2": [CS + "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s{512}(?!\\S)|\\s{256}(?!\\S)|\\s{128}(?!\\S)|\\s{64}(?!\\S)|\\s{32}(?!\\S)|\\s{16}(?!\\S)|\\s{8}(?!\\S)|\\s{4}(?!\\S)|\\s{1,2}(?!\\S)|\\s{1}"],
 "kimi-k2": ["RAW:[" + HAN + "]+|[^\\r\\n\\p{L}\\p{N}]?(?:(?![" + HAN + "])\\p{L})+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"],
 "tekken": ["[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))*((?=[\\p{L}])([^A-Z]))+|[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))+((?=[\\p{L}])([^A-Z]))*|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"],
 "gpt-4o": ["[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))*((?=[\\p{L}])([^A-Z]))+" + CS + "?|[^\\r\\n\\p{L}\\p{N}]?((?=[\\p{L}])([^a-z]))+((?=[\\p{L}])([^A-Z]))*" + CS + "?|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n/]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"],
}
random.seed(11)
alpha = list("㐀豈𠀀\u1f7d\u2126\u212aὰΩK\u1fbeＺ｝‘—ℂ　、…。，、।۔،aZbYé ÉΩω日本ー가\n\r\t  0९5'sStTReVeLlMdD!?.,~$+<=>^`|_-()[]{}\"#%&*/:;@\\") + ["\u00a0","\u3000","\u0301","🙂","٣","\u2028","ｈ","！","\u00ad","½","\x0b","\x00"]
res={}
for name, ps in PATS.items():
    lst=[]
    for _ in range(2000):
        s="".join(random.choice(alpha) if random.random()<0.8 else " "*random.randint(1,20) for _ in range(random.randint(1,14)))
        lst.append([s, split(s, ps)])
    res[name]=lst
json.dump(res, open('emu.json','w'), ensure_ascii=False)
print("ok")
