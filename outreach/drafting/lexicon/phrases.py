"""Phrases a reviewer wants to see marked: hype, stock lines, gender-coded words, protected
characteristics in feedback, and prompt-speak that shows the model copied its instructions.

Each entry is a regular expression (matched case-insensitively on word boundaries) and each
table says, in plain words, why its phrases are flagged.
"""

from __future__ import annotations

import re

# Superlatives, flattery and buzzwords: they say nothing the person can check.
HYPE_EN = r"""
incredibl[ey] | amazing(?:ly)? | awesome | outstanding | exceptional(?:ly)? | extraordinary |
phenomenal | stellar | superb | spectacular | remarkabl[ey] | brilliant(?:ly)? | legendary |
unparall?eled | unmatched | second to none | top[- ]notch | top[- ]tier | best[- ]in[- ]class |
world[- ]class | cutting[- ]edge | bleeding[- ]edge | state[- ]of[- ]the[- ]art | next[- ]level |
game[- ]chang(?:er|ing) | revolutionary | revolutioni[sz](?:e|es|ed|ing) | disruptive |
groundbreaking | mind[- ]blowing |
blown away | blew me away | truly impressive | (?:very |really |most |super |highly )?impressive |
impressed | blown me away | stands? head and shoulders | rock ?stars? | ninjas? | gurus? |
wizards? | unicorns? | superstars? | 10x (?:engineer|developer)s? | thrilled | super excited |
so excited | beyond excited | exciting (?:opportunity|role|chance|journey|times) |
amazing (?:opportunity|team|culture) | unique opportunity | once[- ]in[- ]a[- ]lifetime |
dream (?:job|role|team|company) | perfect (?:fit|match|candidate) | ideal candidate |
exactly the (?:kind|type) of (?:talent|person|candidate) we | passionate about | passion for |
synerg(?:y|ies|istic) | dynamic team | fast[- ]paced | high[- ]octane | hyper[- ]growth |
hit the ground running | move the needle | take your career to the next level |
(?:an )?amazing | fantastic | wonderful | stunning | truly (?:exceptional|unique|special) |
the best of the best | crush(?:ing)? it | killing it | rockstar
"""
STOCK_EN = r"""
(?:i )?(?:came|stumbled) across your (?:profile|background|cv|resume|linkedin) |
i hope (?:this|my) (?:email|message|note|mail) finds you well |
hope you(?:'re| are) (?:well|doing well) |
i hope you are having a (?:great|good|wonderful) (?:day|week) |
i wanted to reach out | reaching out (?:to you )?(?:because|as|since|about) |
touch base | circle back | pick your brain | low[- ]hanging fruit | think outside the box |
at the end of the day | win[- ]win | self[- ]starter | go[- ]getter | team player |
wear many hats | work hard,? play hard | results[- ]driven | detail[- ]oriented |
don't miss (?:out|this) | would love to (?:connect|chat|pick) | quick chat | no strings attached |
your skills (?:would )?(?:be a|are a) great (?:fit|asset) | great asset | valuable asset |
(?:a |the )?right (?:person|candidate) for (?:the|this) (?:job|role) |
look(?:ing)? forward to hearing from you soon | leverage your (?:skills|experience|expertise) |
exciting times | make an impact | change the world | join (?:us|our team) on (?:this|our) journey
"""
HYPE_SV = r"""
otrolig(?:t|a)? | fantastisk(?:t|a)? | grym(?:t|ma)? | makalös(?:t|a)? | enastående |
exceptionell(?:t|a)? | imponerande | häftig(?:t|a)? | superkul | sjukt (?:bra|kul) |
toppen | världsklass | i världsklass | i framkant | framkant | banbrytande | revolutionerande |
unik (?:möjlighet|chans|roll) | unika möjligheter? | spännande (?:möjlighet|roll|resa|tider|chans) |
drömjobb(?:et)? | drömroll(?:en)? | drömteam(?:et)? | perfekt (?:match|matchning|kandidat) |
pass(?:a|ar|ade) perfekt | klockren(?:t|a)? | rockstjärn(?:a|or) | superstjärn(?:a|or) | ninja |
brinner för | passionerad(?:e)? | passion för |
driven (?:och|utvecklare|ingenjör|person|superstjärna) |
snabbrörlig(?:t|a)? | högt tempo | dynamisk(?:t|a)? (?:team|miljö|bolag) | synergi(?:er)? |
helt otrolig | riktigt imponerande | grymt (?:team|bolag|jobbat|bra)
"""
STOCK_SV = r"""
hoppas (?:allt är|du har det|att allt är) (?:bra|väl) | hoppas du mår bra |
(?:jag )?(?:hittade|råkade hitta|snubblade över|såg) din profil | jag ville höra av mig |
ta nästa steg i (?:din )?karriär(?:en)? | ta din karriär till nästa nivå | kort avstämning |
stäm(?:ma)? av | bolla idéer | lagspelare | självgående och driven | tänka utanför boxen |
i slutändan | vinn[- ]vinn | missa inte | bli en del av (?:vår|en) (?:resa|spännande) |
vi ser fram emot att höra från dig
"""
GENDERED = r"""
he/she | she/he | s/he | he or she | his/her | his or her | guys | manpower | man[- ]hours? |
chairman | salesman | foreman | aggressive(?:ly)? | dominant | dominat(?:e|es|ing) |
killar(?:na)? | han/hon | hon/han | grabbar(?:na)? | mannen på gatan
"""

# Protected characteristics: none of this belongs in interview feedback, however phrased.
# English and Swedish apart: "men" is "but" and "man" is "one" in Swedish.
PROTECTED_EN = {
    "age": r"""
    \d{2}[- ]year[- ]olds? | \d{2} years (?:old|young) | years old | your age | of your age |
    at (?:the age of )?(?:1[6-9]|[2-9]\d)(?=,?\s+(?:AT_FOLLOW)\b) |
    age | aged | ageing | aging | too (?:old|young) |
    (?:young|younger|older|old|elderly) (?:PEOPLE)s? |
    elderly | digital native | millennials? | boomers? | gen[- ]?z | your generation | retirement |
    (?:late|later|early|this stage|this point) (?:in|of) (?:life|your life) |
    (?:in your |your )?(?:early |mid |late )?(?:DECADES) |
    born in (?:19|20)\d{2} | gr[ae]y hair | youthful
    """,
    "family": r"""
    kids? | children | childcare | daycare | nursery | school run | family(?!\s+of\b) | families |
    child(?!\s+(?:process|processes|node|nodes|class|component|element|table|thread|span)) |
    parent(?:s|hood|ing)?(?!\s+(?:class|node|process|table|company|component|element|span)) |
    mother | father | mum | mom | dad | motherhood | fatherhood | husband | wife | spouse |
    partner's | your partner | married | marriage | marital | divorc\w* | fianc[ée]e? | widow\w* |
    single (?:mother|father|parent|mum|mom|dad) |
    caring for (?:your )?(?:parents?|relatives?|family)
    """,
    "pregnancy": r"""
    pregnan\w* | maternity | paternity | parental leave | baby on the way |
    expecting (?:a baby|a child|your|in|twins) | (?:you are|you're|she is|she's) expecting |
    due in (?:the )?(?:spring|summer|autumn|fall|winter|\w+ month)
    """,
    "health": r"""
    (?<!on-call )health(?![ -]?checks?) | healthy | illness(?:es)? | sick(?:ness)? | sick leave |
    medical | medication | medicine | diagnos\w* | mental health | therapy | therapist |
    burn-?out | burned out | burnt out | cancer | depress(?:ed|ion) | anxiety | stress leave |
    chronic | surgery | injury | recovering | energy levels | your condition
    """,
    "disability": r"""
    disab\w* | handicap\w* | wheelchair | autis\w* | asperger\w* | adhd | dyslexi\w* |
    deaf(?:ness)? | hard of hearing | hearing (?:loss|aid) | blind(?! spots?) | visually impaired |
    impairment | captions | cochlear\w* | hearing implant
    """,
    "religion": r"""
    religio(?:n|us) | faith | church | mosque | synagogue | temple | muslim | islam\w* |
    christian(?:ity)? | jewish | judaism | hindu | buddhist | sikh | hijab | headscarf | turban |
    kippah | prayers? | pray(?:s|ing)? | ramadan | fasting | eid | sabbath |
    (?:don't|do not|doesn't|does not|cannot|can't) work on (?:sundays|saturdays|fridays|the sabbath)
    """,
    "ethnicity": r"""
    ethnic(?:ity)? | race(?! conditions?) | racial | skin colou?r | skin tone | accent(?:s|ed)? |
    heritage | your roots | where you (?:are|come) from | cultural fit | culture fit |
    your name (?:is|was) (?:hard|difficult) | non[- ]native | minority | minorities | immigrant\w*
    """,
    "nationality": r"""
    nationality | citizenship | citizen | passport | (?:your|a|the) visa | work permit |
    residence permit | outside the eu | non[- ]eu | foreigner | foreign national | native speaker |
    country of origin | national origin |
    (?:as an?|being|you are|you're|a fellow) (?:DEMONYMS)\b |
    (?:DEMONYMS) (?:PEOPLE|ORIGIN)s?
    """,
    "gender": r"""
    gender | male | female | wom[ae]n(?!-) | m[ae]n(?!-in-the-middle|-) | girls? | boys? | lady |
    ladies | gentlem[ae]n | feminine | masculine | maternal | paternal |
    as a (?:mother|father|mum|dad) | transgender | trans (?:woman|man|person) | non[- ]binary
    """,
    "sexual orientation": r"""
    gay | lesbian | bisexual | queer | lgbt\w* | sexual orientation | homosexu\w*
    """,
}
PROTECTED_SV = {
    "age": r"""
    ålder(?:n)? | i din ålder | \d{2}[- ]åring(?:en)? | \d{2} år gammal | års ålder | pensio\w* |
    för gammal | för ung | (?:äldre|yngre|ung) (?:kandidat|person|sökande|utvecklare|kvinna|man)
    """,
    "family": r"""
    barn(?:en|ens)? | småbarn\w* | förälder | föräldrar | familj\w* | mamma | pappa | maka |
    sambo | skilsmässa | hämta på förskolan | förskola\w* | dagis | vab\w*
    """,
    "pregnancy": r"""
    gravid\w* | väntar barn | mammaledig\w* | pappaledig\w* | föräldraledig\w* | barnledig\w*
    """,
    "health": r"""
    hälsa(?:n)? | sjuk(?!sköt|hus|vård|gymnast)\w* | utbrän\w* | utmatt\w* | diagnos\w* |
    medicin\w* | terapi |
    psykisk\w* | depression | ångest | rehabilitering | kronisk\w* | operation
    """,
    "disability": r"""
    funktionsnedsätt\w* | funktionshinder | rullstol | dövhet | döv | hörselskad\w* |
    synskad\w* | dyslexi\w* | dyslektiker | adhd | autis\w* | hörsel\w* | implantat\w*
    """,
    "religion": r"""
    religion(?:en)? | religiös\w* | tron | troende | kyrka(?:n)? | moské(?:n)? | synagoga(?:n)? |
    bön(?:en|er)? | be(?:r)? till gud | ramadan | fast(?:a|ar|an) | slöja | sjal | kristen |
    kristna |
    judisk\w* | muslim\w* | sabbat(?:en)?
    """,
    "ethnicity": r"""
    etnicitet | etnisk\w* | hudfärg | brytning | bryter på |
    utländsk\w* (?:bakgrund|namn|härkomst) |
    ursprung | härkomst | invandr\w* | utrikesfödd\w* | rötter
    """,
    "nationality": r"""
    medborgar\w* | nationalitet(?:en)? | uppehållstillstånd\w* | arbetstillstånd\w* | visum |
    utlänning\w* | som (?:SV_DEMONYMS) |
    (?:SV_DEMONYMS) (?:bakgrund|härkomst|medborgare|utvecklare|ingenjör|kvinna|man)
    """,
    "gender": r"""
    kön(?:et)? | kvinna | kvinnor | kvinnlig\w* | manlig\w* | tjej(?:er)? | kille | killar |
    som kvinna | som tjej | som kille
    """,
    "sexual orientation": r"""
    sexuell läggning | homosexu\w* | bög | flata | hbtq\w*
    """,
}
_DEMONYMS = (
    "polish|indian|chinese|nigerian|syrian|iranian|turkish|somali|pakistani|brazilian|mexican|"
    "russian|ukrainian|romanian|bulgarian|arab|african|asian|vietnamese|filipino|egyptian|"
    "moroccan|iraqi|afghan|eritrean|ethiopian|kenyan|ghanaian|bangladeshi|japanese|korean|thai|"
    "portuguese|spanish|italian|greek|german|french|british|american|swedish|finnish|norwegian|"
    "danish|estonian|latvian|lithuanian|hungarian|czech|serbian|croatian|bosnian|albanian|"
    "kurdish|lebanese|palestinian|israeli|dutch|irish|chilean|colombian|venezuelan|peruvian|"
    "cuban|jamaican|latino|latina|hispanic"
)
_SV_DEMONYMS = (
    "polsk|indisk|kinesisk|syrisk|iransk|turkisk|somalisk|irakisk|afghansk|eritreansk|"
    "nigeriansk|rysk|ukrainsk|rumänsk|arabisk|afrikansk|asiatisk|grekisk|kurdisk|bosnisk|"
    "serbisk|kroatisk|albansk|chilensk|eritreansk|etiopisk|finsk|norsk|dansk|tysk|utländsk"
)
_PARTS = {
    "SV_DEMONYMS": _SV_DEMONYMS,
    "DEMONYMS": _DEMONYMS,
    "DECADES": "twenties|thirties|forties|fifties|sixties|20s|30s|40s|50s|60s",
    "AT_FOLLOW": "you|and|with|it|that|this|the|we|most|many|a",
    "PEOPLE": "candidate|person|applicant|people|talent|engineer|developer|woman|man|guy|girl",
    "ORIGIN": "background|heritage|roots|origin|name|accent|culture|national|citizen|passport"
    "|family",
}
for _table in (PROTECTED_EN, PROTECTED_SV):
    for _topic, _pattern in _table.items():
        for _key, _value in _PARTS.items():
            _pattern = _pattern.replace(_key, _value)
        _table[_topic] = _pattern


def compile_table(source: str) -> re.Pattern[str]:
    """Compile one table of alternatives, written one per '|' with free spacing."""
    alternatives = [part.strip() for part in re.split(r"\s\|\s|\|\n|\n\|", source) if part.strip()]
    pattern = "|".join(re.sub(r"\s*\n\s*", "", a) for a in alternatives)
    return re.compile(rf"(?<![\w/-])(?:{pattern})(?![\w/])", re.IGNORECASE | re.MULTILINE)


# Prompt-speak: the instruction's words about the mail rather than a mail to the person.
META = r"""
the candidate(?:'s)? | this (?:particular )?candidate | this particular person | the person(?:'s)? |
(?:in|from) (?:the|their) profile | their profile | the interview notes | the notes say | the slot |
slots? | json | word limit | at most \d+ words | \(\d+ words\) | speak to the person |
as ['‘’"]you['‘’"] | no praise | no scores | plain words | one sentence on | one short sentence |
here(?:'s| is) (?:a|the|your|my) (?:sentence|hook|draft|text|email|reply|answer|version) |
sure[,!] here | as an ai | language model | kandidaten(?:s)? | den här personen |
just den här personen |
personen som ['‘’"]du['‘’"] | intervjuanteckningarna | högst \d+ ord | tilltala personen |
inget beröm |
enkla ord | en mening på svenska | på svenska om
"""
