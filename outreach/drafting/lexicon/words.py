"""Word lists for reading recruiting mail in English, Swedish and German.

Function words per language (for telling languages apart and for skipping words that carry no
claim), the ordinary words of a recruiting mail that state nothing checkable, sentence starters
that are not names, first names with their usual gender, and the words that show who a clause
is about: the person addressed, the hiring side, someone else.
"""

from __future__ import annotations


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


STOPWORDS = {
    "en": _words(
        """the and is are was were to of in that it for you with on this be have has had i we
        our your would will not at from as but an my me so what about there they a by or if
        their them its than then been being do does did can could should may might must also
        just very into over up out more most some any all each which who whom whose how when
        where why while these those such only own same both too here his her she he him us
        yours i'm i'd i'll i've you're you've you'd you'll we're we'd we'll it's that's let's
        don't didn't isn't aren't wasn't won't"""
    ),
    "sv": _words(
        """och att det som en är på för med jag inte har av till om vi du den ett så kan var
        men vill mig dig din ditt dina våra vår vårt också när skulle hur eller där dem de
        sin sitt sina hos mot vid under efter innan sedan än bara redan ju nog här nu då
        oss er ni man hade varit vara blir blev bli får fick detta denna dessa vad vilken
        vilket vilka något någon några inga ingen inget mycket mer mest samma även eftersom
        medan både alla allt andra annan annat utan genom mellan från upp ut in över"""
    ),
    "de": _words(
        """und der die das ist nicht ich sie es zu mit auf für den von ein eine wir sind auch
        haben dass bei wie ihr ihre ihrer ihren ihnen uns unser unsere unserer dem des im am
        zum zur vom beim einen einem einer eines kein keine diese dieser dieses wird werden
        würde würden hat hatte als oder aber wenn noch schon sehr nur so"""
    ),
    "fr": _words(
        """le la les et est un une des pour que qui dans pas vous nous avec sur ce je votre
        vos au du sont être mais"""
    ),
    "es": _words(
        """el la los las y es un una que de en para con por no su se lo como pero más usted
        nos muy este esta"""
    ),
    "nl": _words(
        """de het een en is van dat niet ik je we zijn voor met op te wat ook maar jij ons bij
        naar hebben"""
    ),
    "no": _words(
        """og er det som en på for med jeg ikke har av til om vi du den et så kan var men vil
        meg deg hva noen hvordan"""
    ),
    "da": _words(
        """og er det som en på for med jeg ikke har af til om vi du den et så kan var men vil
        mig dig hvad nogle hvordan"""
    ),
    "fi": _words(
        """ja on ei se että olen olet hän me te he mutta tai kun jos niin myös sinun meidän
        kanssa mitä tämä"""
    ),
}
# Words only one of the close Nordic languages uses: they settle Swedish against Norwegian.
NORDIC_MARKERS = {
    "sv": _words("och inte jag mig dig är också skulle hur vad något någon"),
    "no": _words("og ikke jeg meg deg er også skulle hvordan hva noe noen"),
    "da": _words("og ikke jeg mig dig er også skulle hvordan hvad noget nogen"),
}
ALL_STOPWORDS = frozenset().union(*STOPWORDS.values())

# Ordinary words of recruiting mail: a clause made of these states nothing to check.
GENERIC = _words(
    """work works worked working role roles team teams job jobs position company companies
    experience experiences background backgrounds skill skills thing things kind sort type
    way ways part parts lot lots bit fit fits fitting close closely similar different exactly
    really quite well good nice clear clearly strong real concrete specific specifically
    particular particularly interest interests interesting interested curious care careful
    carefully want wants need needs needed like likes love think thought believe feel felt
    know known knows see saw seen look looking looks hear heard talk talking chat call calls
    meet meeting reply write writing wrote read reading share tell told say said ask asked
    question questions answer answers help helps helped helpful bring brings brought make
    makes made making take takes took taking get gets got give gives gave keep keeps put
    use used uses using run runs running own owns owning ownership join joining joined grow
    growing move moving start started starting next step steps time times day days week
    weeks month months year years today now soon later already still yet again less much
    many few every other others another new old first last right sure happy glad thanks
    thank hope wish best kindly open free fine short long quick easy hard simple plain
    people person someone anyone everyone engineer engineers engineering developer
    developers software system systems product products service services platform tool
    tools stack code project projects problem problems challenge challenges chance idea
    ideas detail details example examples result results impact matter matters important
    useful relevant direct directly practice practise practising practical area areas topic
    topics side level levels deep deeper depth wide broad focus focused approach decision
    decisions process support handle handled handles handling improve improving change
    changes changed end day-to-day role's team's whole small big large part-time full-time
    come comes coming go goes going went done doing able way probably perhaps maybe
    certainly definitely especially mostly usually often always never sometimes together
    instead rather enough little around within across along both either neither next
    together ahead forward back further more week's update updates note notes mail email
    message letter invite invitation welcome reach touch connect connected find found
    learn learned learning grow grown understand understood explain explained walk walked
    through showed show shows shown set setup check checked follow follow-up
    down up off away out onto
    arbete arbeta arbetar arbetat jobb jobba jobbar jobbat roll rollen rollens team teamet
    teamets tjänsten erfarenhet erfarenheten erfarenheter bakgrund bakgrunden sak saker
    sätt del delar lite precis just verkligen tydligt tydlig tydliga konkret konkreta stark
    starka bra gott fin fint nära samma liknande annan intressant intresse intressera
    intresserad nyfiken behöver behov behövs tror tycker tänker vet veta se ser såg höra
    prata samtal ringa träffas svara skriva läsa dela berätta fråga frågor frågorna svar
    hjälpa hjälp ta tar tog göra gör gjort gjorde få fick ge ger gav hålla använda
    använder använt leda leder bygga bygger äga äger växa flytta börja nästa steg tid dag
    dagar vecka veckor månad månader år nu snart fortfarande igen mindre många varje alla
    ny nya nytt första sista rätt säker glad tack hoppas önskar öppen kort lång enkel svår
    människor personer person utvecklare ingenjör ingenjörer system systemet systemen
    produkt produkten tjänst plattform plattformen verktyg kod koden projekt problem
    utmaning utmaningar möjlighet chans idé exempel resultat område områden nivå djupare
    fokus process stöd hantera förbättra förändra passa passar passade värdefull viktig
    viktigt användbar relevant direkt praktik praktiken öva läs gärna gå går gick igenom
    vidare tillsammans ihop komma kommer nytta hör mejl återkommer återkomma ta reda
    inbjudan skicka skickar skickade förstå förstår förklarade förklara visa visade typ
    arbeit arbeiten rolle team erfahrung gut passt passen gerne weiter zusammen"""
)

# Sentence-initial capitals that are ordinary words, not names.
COMMON = _words(
    """a about above after again all also although always an and another any anyone are
    as at back based be because been before being best better both but by can could
    congratulations congrats curious currently dear did do does doing done each either
    especially even every few for from given glad good great had happy has have having
    he her here hers his hope how however if impressive in indeed instead interesting is
    it its just last later let like looking lots many maybe me more most much my next no
    nor not now of often on once one only or other our out over particularly perhaps
    please quite rather really recently regarding she since so some someone something
    still such sure thank thanks that the their them then there these they this those
    though through thus to together too truly two very was we well were what whatever
    when where whether which while who whom whose why will with within without would yes
    yet you your yours yourself apart building leading seeing reading working
    beyond across along among around between during toward towards under until upon
    overall first second third finally additionally specifically notably clearly
    absolutely certainly definitely having nice welcome sorry unfortunately
    kind kindly love loved enjoyed appreciated noticed saw read heard learned
    feel should sounds excellent strong solid talk speak reach meanwhile plus besides
    otherwise lastly honestly frankly cheers regards warm neither several considering
    combined note unlike whilst right actually moreover furthermore anyway ideally
    hopefully quick short three everyone nothing everything anything wonderful
    same similar different new old small big large whole full rest part parts day week
    month year time role roles team teams work job company position opportunity chance
    expect good great bringing cutting moving shipping growing leading rebuilding writing
    alla allt att av bara bra de dem den denna dessa det detta din dina ditt du efter
    eftersom en ett för från förra genom gärna ha hade har hej hur i inom jag kan
    kanske med men mer mest min mina mitt mycket ni nu när och om också på redan sedan
    som speciellt särskilt tack till under upp ut utan vad vi vill väldigt vår våra är
    även ännu hos här där då sen just precis många flera varje nästa dessutom tyvärr
    lycka läs lägg dela räkna öva
    die der das ein eine ich wir sie ihre ihr ihren unser unsere unseren es mit bei für
    vielen danke hallo gerne auch und aber sie ihr ihre ihrer ihren ihrem ihnen ja nej okej
    absolut visst"""
)

# Swedish and German nouns open sentences with a capital; these endings mark a common noun.
SV_NOUN_ENDINGS = ("et", "en", "na", "erna", "arna", "orna", "andet", "ningen", "heten", "an")
DE_NOUN_ENDINGS = ("ung", "heit", "keit", "schaft", "tion", "tät", "ismus", "ment", "nis")
DE_DETERMINERS = _words(
    """der die das den dem des ein eine einen einem einer eines kein keine keinen keinem
    ihr ihre ihren ihrem ihrer unser unsere unseren unserem unserer diese dieser dieses
    jede jeder jedes mein meine im am zum zur vom beim ins ans"""
)

FEMALE_NAMES = _words(
    """agnes aino alice alexandra alva amanda amara amelia ana andrea anita ann anna anne
    annika astrid birgitta camilla carla caroline charlotte christina claire clara diana
    ebba elena elin elisabeth elizabeth ella ellen elsa emilia emily emma eva fatima frida
    grace hana hanna hannah helen helena ida ingrid isabel jane jennifer jessica johanna
    julia karin kate katarina katrin klara kristina laura lea lena linda linnea lisa lucy
    lucía lucia maja malin maria marie marta mary maya mia nadia nina olivia petra priya
    rachel rebecca sanne sara sarah sofia sophie tove ulrika wilma zoe"""
)
MALE_NAMES = _words(
    """aaron adam adrian ahmed ali alex alexander anders andreas andrew anton arvid axel ben
    benjamin bernd bjorn björn bo brian carl carlos chen chris christian christoph daniel
    david dmitri eli elias emil erik eric felix filip frank fredrik gabriel george gustav
    hans harry henrik hugo isak jack jacob james jan jens joakim johan john jonas jonathan
    jose josef julian karl kevin kim lars leo liam lucas ludvig luis magnus marcus martin
    mats matthew max michael mikael mohammed nils noah olof omar oliver oscar oskar pablo
    patrik paul per peter pierre robert ruben sebastian simon stefan sven thomas tim tobias
    tom tomasz ulf victor viktor wei yusuf"""
)
FIRST_NAMES = FEMALE_NAMES | MALE_NAMES

# Who a clause is about.
SECOND_PERSON = _words(
    "you your yours yourself you're you've you'd you'll du dig din ditt dina sie ihre ihr ihnen"
)
THIRD_PERSON = {
    "she": "f", "her": "f", "hers": "f", "herself": "f", "he": "m", "him": "m", "his": "m",
    "himself": "m", "hon": "f", "henne": "f", "hennes": "f", "han": "m", "honom": "m",
    "hans": "m", "hen": "", "hens": "", "henom": "",
}  # fmt: skip
HIRING_SIDE = _words("we us our ours i i'm i've i'd we're we've vi oss vår vårt våra jag teamet")
# "join the team at X" offers X's team: X is the hiring side.
JOINING = _words("join joining ansluta ansluter börja börjar")
FUTURE = _words(
    """would will could can might may shall should 'd 'll going join joining joined
    skulle kommer kan kunde ska vill ansluta börja würden werden könnten"""
)
REPORTING = _words(
    """said says mentioned told noted suggested recommended asked thinks thought liked
    appreciated enjoyed praised saw felt found valued noticed remembered highlighted
    uppskattade tyckte noterade sa sade nämnde gillade berömde såg märkte lyfte frågade"""
)
PERSON_NOUNS = _words(
    """manager managers interviewer interviewers recruiter colleague colleagues panel lead
    founder cofounder co-founder cto ceo boss mentor teammate chef chefen rekryterare
    rekryteraren intervjuare intervjuaren kollega kollegor panelen grundare"""
)
PLACE_PREPOSITIONS = _words("at with for på hos vid bei für")
PERSON_BEFORE = _words(
    """mr mrs ms dr prof colleague colleagues manager ceo cto founder cofounder co-founder
    recruiter lead teammate boss mentor"""
)
SAID = REPORTING

# Technology names a model drops in lower case; ambiguous words ("go", "rust") count only
# capitalised, which the name check already covers.
TECH = _words(
    """kubernetes k8s terraform kafka postgres postgresql mysql mariadb redis django numpy
 pytorch tensorflow keras graphql grpc typescript javascript golang nodejs webpack kotlin
 scala haskell elixir erlang clojure fastapi sqlalchemy databricks dbt
 looker tableau grafana prometheus datadog elasticsearch opensearch kibana logstash
 github gitlab bitbucket jira docker podman nginx istio linkerd argocd eks gke aks
 dynamodb cassandra mongodb cockroachdb clickhouse bigquery redshift hadoop flink
 kinesis rabbitmq zeromq nats pytest playwright selenium svelte vuejs
 nextjs nuxt tailwind figma swiftui xamarin opengl vulkan cuda llvm
 wasm webassembly tokio serde actix axum sqlx rayon sklearn
 xgboost lightgbm spacy huggingface langchain openai jenkins circleci ansible
 dagster fivetran metabase kubeflow mlflow sagemaker
 triton onnx jax jquery redux mobx webpack vite esbuild babel eslint
 vitest junit mockito gradle maven hibernate quarkus micronaut
 ktor retrofit okhttp jetpack rxjava alamofire
 cocoapods fastlane firebase supabase heroku vercel netlify cloudflare fastly akamai
 terragrunt pulumi crossplane vagrant thanos loki
 jaeger zipkin opentelemetry pagerduty opsgenie sarama pgx sqlc gorm
 logrus bazel """
)
# Lower-case words without vowels that are ordinary abbreviations, not code names.
VOWELLESS_OK = _words("hrs tkr mkr kwh mph bps pcs cf vs nth hmm psst st tv pdf sms dvd")
# First parts of hyphenated library names ("react-aria", "kube-prometheus-stack").
TECH_PREFIXES = _words(
    """kube react vue pg py go rust node spring terraform aws gcp azure docker helm eslint
    babel webpack django flask next nuxt angular svelte tokio serde redux jest dbt airflow
    kafka spark sklearn torch tf jupyter"""
)

# Words that make a clause advice or a plan rather than a statement of fact.
ADVICE = _words(
    """worth help helps try consider practise practice practising recommend suggest suggests
    read review reviewing prepare think värt hjälpa hjälper prova försök överväg öva läs läsa
    rekommenderar föreslår förbered tänk bör"""
)
# Words that defer an answer: "I'll find out", "jag återkommer".
DEFER = _words(
    """know find check ask confirm sure unsure will find out get back come back
    vet veta kolla fråga frågar bekräfta återkommer återkomma reda säkert osäker"""
)
# Words that promise something the hiring side gives: such a clause needs its object in the inputs.
OFFERS = _words(
    """offer offers offered provide provides cover covers include includes get gets comes
    benefit benefits perk perks allowance allowances bonus bonuses budget paid pay pays
    erbjuder erbjuds får ingår bjuder betalar täcker förmån förmåner bonus ersätter ersätts"""
)
