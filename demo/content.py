"""Demo publications of the fictional "Northmoor Collaboration Observatory".

ALL CONTENT IN THIS MODULE IS FICTIONAL SAMPLE DATA WRITTEN FOR THE EVIDENCE HUB DEMO.
The publisher, the places (Ashcombe, Kellingford, Westerholm, Lowmere, Harrowfield,
Saltmere, Brackenvale, Eastmere), the people, the projects and every figure quoted are
invented; none of the text is taken from, or describes, a real publication.

The corpus is small but shaped like the real thing: seven blog posts (HTML, 350-600
words in 4-7 paragraphs with two or three subheadings) and four reports (PDF,
1,200-2,000 words in the sections Summary, Background, Methods, Findings and
Recommendations), all about collaboration between public services, published between
2023 and 2025.  :mod:`demo.build` turns :data:`DOCUMENTS` into a static website.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Literal

PUBLISHER = "Northmoor Collaboration Observatory"
"""Name of the fictional publisher (used for og:site_name, footers and PDF metadata)."""

REPORT_SECTIONS = ("Summary", "Background", "Methods", "Findings", "Recommendations")
"""Section headings every report has, in this order."""


@dataclass(frozen=True)
class DemoDocument:
    """One fictional publication.

    Attributes:
        slug: URL-safe file stem, lowercase ASCII letters, digits and hyphens; unique.
        kind: ``"post"`` (rendered as ``posts/<slug>.html``) or ``"report"`` (rendered
            as ``reports/<slug>.pdf`` plus a landing page ``reports/<slug>.html``).
        title: exact, distinctive title (may contain non-ASCII punctuation such as an
            en dash; the PDF writer transliterates it).
        authors: author names in byline order, at least one.
        published: publication date (2023-2025).
        summary: one or two sentences, used for meta descriptions and listings.
        sections: ``(heading, body)`` pairs in reading order.  ``heading`` may be ``""``
            for an untitled opening section (posts).  ``body`` is plain text with
            paragraphs separated by a blank line (``"\\n\\n"``); no markup.
    """

    slug: str
    kind: Literal["post", "report"]
    title: str
    authors: list[str]
    published: date
    summary: str
    sections: list[tuple[str, str]]

    def paragraphs(self) -> list[str]:
        """All body paragraphs in order (headings excluded)."""
        return [p for _, body in self.sections for p in body.split("\n\n") if p]

    def word_count(self) -> int:
        """Number of whitespace-separated words in the body (headings excluded)."""
        return sum(len(p.split()) for p in self.paragraphs())


def _body(text: str) -> str:
    """Normalise a triple-quoted body: paragraphs split on blank lines, inner whitespace
    collapsed to single spaces, paragraphs rejoined with ``"\\n\\n"``."""
    paragraphs = [" ".join(chunk.split()) for chunk in re.split(r"\n\s*\n", text)]
    return "\n\n".join(p for p in paragraphs if p)


def _doc(
    slug: str,
    kind: Literal["post", "report"],
    title: str,
    authors: list[str],
    published: date,
    summary: str,
    sections: list[tuple[str, str]],
) -> DemoDocument:
    return DemoDocument(
        slug=slug,
        kind=kind,
        title=title,
        authors=authors,
        published=published,
        summary=" ".join(summary.split()),
        sections=[(heading, _body(body)) for heading, body in sections],
    )


# --------------------------------------------------------------------------- posts

_POSTS = (
    _doc(
        "ashcombe-family-hub-year-one",
        "post",
        "What we learned from a year inside the Ashcombe family hub partnership",
        ["Priya Raman"],
        date(2024, 2, 14),
        """Twelve months alongside a family hub run jointly by early help, health visiting
        and a parenting charity: why a shared welcome desk mattered more than a shared
        database.""",
        [
            (
                "",
                """
                When the three organisations behind the Ashcombe family hub signed their
                partnership agreement, the document ran to eleven pages and mentioned the
                word "integration" nineteen times. A year later, the staff who work in the
                hub describe what they do in far plainer terms: one front door, one
                conversation, and someone who stays with the family until the problem is
                sorted. We spent twelve months alongside the partnership, sitting in on
                team meetings, shadowing the welcome desk and interviewing parents, to
                understand how that plainer version came about.

                The hub brings together the county council's early help service, the local
                health visiting team and a parenting charity that had run drop-in groups in
                the same building for years. Before the partnership, a parent worried about
                their toddler's sleep, their rent arrears and their own low mood might have
                been referred three times, filled in three forms and waited on three lists.
                The ambition was to replace that with a single assessment and a named lead
                worker.
                """,
            ),
            (
                "The welcome desk mattered more than the database",
                """
                Much of the early planning effort went into a shared case management
                system. It was useful, eventually, but staff were clear that the bigger
                change was a rota that put a health visitor, an early help practitioner and
                a charity volunteer on the welcome desk together every weekday morning.
                Parents who arrived with one question were often helped with two or three
                more before they left, because the person who could answer them was
                standing a metre away. Referrals between the three organisations fell by
                around a third, not because fewer families were helped, but because more
                help happened in the room.

                The rota also did something no training course had managed: it taught each
                profession what the others actually did. Health visitors told us they had
                previously thought of early help as "the route into social care" and
                steered families away from it. After a few months of sharing a desk, they
                described it as "the people who sort out the practical stuff".
                """,
            ),
            (
                "Where the partnership struggled",
                """
                Not everything worked. Data protection advice arrived late and was
                cautious, so for the first four months the charity's staff could not see
                case notes and had to ask colleagues to read them aloud. Line management
                remained with each home organisation, which meant three sets of supervision
                arrangements and, occasionally, three different answers to the same
                safeguarding question. Evening and weekend opening, promised in the
                original bid, was quietly dropped when the charity's volunteer numbers fell
                over the summer.

                The partnership's response to these problems is perhaps its most
                transferable lesson. Rather than escalating each one to the strategic
                board, the hub manager kept a simple "sticking points" list on the
                staffroom wall, reviewed every fortnight with one manager from each
                organisation. Around two thirds of the items were resolved at that level
                within a month. The ones that were not, such as the data question, went to
                the board with a clear description of the problem and a proposed fix.

                For other areas setting up family hubs, our advice is modest. Put people
                from different services physically together before you invest heavily in
                shared systems, give front-line managers the authority to fix small
                problems quickly, and be honest in the bid about what opening hours you can
                actually staff.
                """,
            ),
        ],
    ),
    _doc(
        "kellingford-home-by-friday-discharge-pilot",
        "post",
        "Home by Friday: notes from an integrated discharge pilot in Kellingford",
        ["Tom Hadley", "Grace Oduya"],
        date(2023, 6, 8),
        """A six-month pilot put a hospital discharge coordinator, a social worker, an
        occupational therapist and a housing officer round the same ward whiteboard every
        morning. Delays halved; paying for it afterwards was harder.""",
        [
            (
                "",
                """
                Every winter the same picture emerges at Kellingford General Hospital:
                wards full of older patients who are medically ready to go home but who are
                waiting for something \u2013 a package of care, a piece of equipment, an
                assessment, or a conversation between two organisations that have never
                quite synchronised their diaries. In the autumn the hospital trust, the
                borough council's adult social care department and a community health
                provider agreed to try something different for six months.

                The pilot, which staff nicknamed \u201cHome by Friday\u201d, placed a small
                integrated team on two elderly care wards. It included a discharge
                coordinator employed by the trust, a social worker from the council, an
                occupational therapist from the community provider and, two days a week, a
                housing officer. The team met at nine every morning at the ward whiteboard
                and agreed, for every patient expected to leave that week, what needed to
                happen and who would do it.
                """,
            ),
            (
                "A shared list, not a shared budget",
                """
                The pilot did not pool any money. Each organisation kept its own budget and
                its own eligibility rules. What changed was that decisions were made in the
                same conversation rather than in sequence. A social worker could start
                arranging home care on the strength of the occupational therapist's
                assessment, rather than waiting for a written report to arrive by email.
                When a patient needed a key safe fitted, the housing officer would often
                have it booked before lunch.

                Over the six months, the median time between a patient being declared
                medically fit and actually leaving hospital fell from just over four days
                to a little under two. The team were careful to point out that winter
                pressures arrived late that year and that the comparison period was
                unusually difficult, so some of the improvement may not be down to the
                pilot at all. Readmissions within 30 days did not rise, which had been the
                main worry among senior clinicians.
                """,
            ),
            (
                "What happens when the pilot ends",
                """
                The harder question is sustainability. The social worker and occupational
                therapist posts were funded from a one-off winter grant, and each
                organisation's finance team naturally asked why it should pay for a post
                whose benefits mostly show up in another organisation's figures. Faster
                discharges free up hospital beds; the costs of home care fall on the
                council. This is the classic problem of integrated care, and a morning
                huddle cannot solve it.

                At the time of writing the three partners have agreed to continue the team
                for a further year, with costs split according to a simple formula based on
                the number of patients each organisation supports after discharge. It is a
                pragmatic compromise rather than a grand design. Staff on the wards, asked
                what they would tell another hospital thinking of doing the same, mostly
                gave the same answer: get the right people round the whiteboard every
                morning, and the paperwork will follow.
                """,
            ),
        ],
    ),
    _doc(
        "westerholm-homelessness-panel",
        "post",
        "Round the table: how the Westerholm homelessness panel decides who does what",
        ["Ellen Marsh"],
        date(2023, 11, 21),
        """A monthly multi-agency panel for people whose housing, health and justice needs
        overlap. Allocating one trusted lead professional worked better than long shared
        action lists.""",
        [
            (
                "",
                """
                On the second Tuesday of every month, around fifteen people gather in a
                meeting room at Westerholm's civic centre to talk about a handful of
                residents whose lives have become entangled with almost every public
                service in the town. The Westerholm multi-agency homelessness panel was set
                up to deal with cases that no single organisation could resolve on its own:
                people sleeping rough with serious health needs, people repeatedly evicted
                from temporary accommodation, and people leaving prison with nowhere to go.

                Members include the council's housing options team, the local mental health
                trust, a drug and alcohol service, probation, the police neighbourhood
                team, two housing associations and a day centre run by a local charity. We
                observed six panel meetings and interviewed members and several people
                whose cases had been discussed, with their consent.
                """,
            ),
            (
                "Agreeing a lead, not a list of actions",
                """
                Early panel meetings, members told us, tended to end with long action lists
                shared among many agencies. Progress was hard to track, and residents
                experienced the result as a stream of appointments with different workers.
                In its second year the panel changed its approach. Each case is now
                allocated a single lead professional, chosen according to who has the
                strongest existing relationship with the person rather than which agency
                has statutory responsibility. Other members commit to specific actions that
                the lead can call on.

                That simple shift had visible effects. One man who had been evicted four
                times in eighteen months was allocated a day centre key worker as his lead,
                because he trusted her more than anyone from the council. She was able to
                negotiate directly with the housing association about rent arrears and to
                accompany him to a mental health assessment he had missed three times
                previously. He has now held a tenancy for over a year.
                """,
            ),
            (
                "Information sharing and consent",
                """
                The panel's biggest continuing tension is information. Members share
                personal details under a written protocol based on consent, but some of the
                people discussed are hard to reach and have not agreed to sharing. The
                panel's chair, a senior housing manager, has taken a careful line: where
                consent cannot be obtained, discussion is limited to what is necessary to
                prevent serious harm, and the reasons are recorded. Some members find this
                frustrating; others see it as the reason residents continue to engage.

                Panels like Westerholm's are easy to set up and hard to do well. What seems
                to make the difference is not the membership list or the terms of reference
                but the willingness of members to give time, and a degree of professional
                trust, to colleagues from other organisations, and to let the person at the
                centre decide who they want to work with.
                """,
            ),
        ],
    ),
    _doc(
        "lowmere-violence-reduction-partnership",
        "post",
        "Beyond the duty: a violence reduction partnership learns to share the load",
        ["Marcus Bell"],
        date(2024, 9, 3),
        """How Lowmere's violence reduction partnership moved from writing strategies to
        running joint projects, starting with emergency department data, and why shared
        credit turned out to matter as much as shared data.""",
        [
            (
                "",
                """
                When a new legal duty required local agencies to work together to prevent
                serious violence, many areas responded by writing a strategy. Lowmere
                already had one. What it lacked, according to the people who ran its
                violence reduction partnership, was a way to make the strategy change what
                happened on a Friday night in the town centre or in the corridor of a
                secondary school.

                The Lowmere partnership brings together the police, the county council, the
                local NHS, youth justice, the fire and rescue service, probation and a
                consortium of voluntary youth organisations. Its coordinating team of five
                is hosted by the council but funded by contributions from each statutory
                member. Over eighteen months, the team shifted its attention from producing
                documents to running a small number of joint operational projects.
                """,
            ),
            (
                "Starting with A&E data",
                """
                The first of these used anonymised information from the hospital's
                emergency department about where and when assaults happened. Combined with
                police data, it revealed that a large share of injuries among young people
                occurred not late at night but between 3pm and 6pm near two bus
                interchanges. The partnership redirected detached youth workers to those
                locations in the after-school hours and asked the bus operator to increase
                staff presence. Recorded assaults near the interchanges fell over the
                following two terms, although the numbers are small enough that the team is
                cautious about drawing firm conclusions.

                A second project placed youth workers in the emergency department itself,
                to speak with young people admitted with injuries from violence at what
                staff call a "reachable moment". Clinicians were initially sceptical about
                non-clinical staff on the ward. Within a few months, nurses were paging the
                youth workers themselves.
                """,
            ),
            (
                "Sharing the load, and the credit",
                """
                The partnership's coordinator describes the main challenge as less about
                data or money than about credit. Each organisation reports to its own
                board, regulator or elected member, and each wants to show that its
                contribution made a difference. Early progress reports listed activities by
                agency, which encouraged members to count their own outputs rather than
                look at shared outcomes. The team now reports a small set of shared
                measures and names the partnership, not individual agencies, as responsible
                for them.

                That change was not universally popular, and some members still prefer
                agency-level reporting. But it has made budget conversations easier: when a
                youth worker's post is at risk, the question is no longer which
                organisation benefits but whether the partnership can afford to lose it.
                """,
            ),
        ],
    ),
    _doc(
        "paying-experts-by-experience-properly",
        "post",
        "Paying people properly: co-production with experts by experience",
        ["Sana Qureshi", "Joe Fenwick"],
        date(2025, 1, 29),
        """Two years redesigning a crisis mental health service with nine people who had
        used it. The unglamorous parts of co-production - payment, timing and honesty
        about who decides - mattered most.""",
        [
            (
                "",
                """
                Most public bodies now say they want to involve people with lived
                experience in designing services. Fewer have thought through what that
                means in practice for the people they invite. Over the past two years we
                have worked with a group of nine adults who have experience of mental health
                crisis services, alongside a commissioner, two service managers and a peer
                support charity, to redesign how crisis support is offered in a mid-sized
                English county. This post sets out what we learned about the unglamorous
                parts of co-production.
                """,
            ),
            (
                "Money, time and the benefits system",
                """
                The first and least discussed issue is payment. Our group agreed from the
                start that members would be paid for their time at a rate equal to the
                commissioner's hourly pay, and that travel and childcare would be
                reimbursed on the day in cash rather than weeks later through an expenses
                system. Several members receive benefits, so we paid for independent
                welfare rights advice to make sure that payments would not put their income
                at risk. This cost money and took time, but without it at least three
                members would not have been able to take part.

                Time matters in a different way. Meetings were held at a community centre
                rather than at the council offices, started at eleven rather than nine, and
                always included lunch. Documents were circulated a week in advance in plain
                English, with a short audio summary for those who preferred it. None of
                this is novel, but we were struck by how often previous involvement
                exercises had skipped these basics.
                """,
            ),
            (
                "Sharing power, not just seats",
                """
                The more difficult question was decision-making. Co-production is often
                described as a partnership of equals, but in reality the commissioner held
                the budget and the service managers held the contracts. We were explicit
                about this from the outset. Each decision was labelled as one the group
                would make together, one where the group's recommendation would be followed
                unless there was a stated reason not to, or one the commissioner would take
                after consultation. Being honest about those limits built more trust than
                vague promises of equality would have done.

                The redesigned service, which opened last autumn, includes an evening
                crisis caf\u00e9 staffed jointly by peer workers and mental health nurses, a
                text-based contact route and a simplified referral form that group members
                wrote themselves. Early feedback is positive, although it is too soon to
                know whether the service has reduced emergency department attendances.

                Our advice to others is simple: budget for co-production properly, explain
                plainly who decides what, and treat experts by experience as colleagues
                whose time is as valuable as anyone else's in the room.
                """,
            ),
        ],
    ),
    _doc(
        "harrowfield-council-nhs-data-sharing",
        "post",
        "The data sharing agreement took nine months. Here is why that was worth it",
        ["Dr Helen Archer"],
        date(2024, 5, 16),
        """Linking adult social care records with community health data in Harrowfield
        took nine months of governance work. The slow route produced an agreement that
        staff trust and residents have not challenged.""",
        [
            (
                "",
                """
                Ask anyone who has tried to join up local services and they will tell you a
                story about information governance. Ours begins in the spring of last year,
                when Harrowfield borough council and the local NHS integrated care board
                agreed in principle to link adult social care records with community health
                data. The aim was straightforward: to identify people at risk of a crisis
                earlier, so that a district nurse or a social worker could visit before a
                fall or an emergency admission. Signing the agreement that allowed us to do
                it took nine months.
                """,
            ),
            (
                "Why it took so long",
                """
                Some of the delay was the ordinary friction of two large organisations. The
                council and the NHS use different templates, different sign-off routes and
                different legal advisers, each of whom, reasonably, wanted to protect their
                own organisation. We went through four drafts of the data protection impact
                assessment. We discovered late in the process that one of the community
                health datasets was held by a third-party supplier under a contract that did
                not permit onward sharing, which added two months.

                But much of the time was spent on questions that genuinely needed
                answering. What was the legal basis for linking records without individual
                consent? Who would be able to see identifiable information, and who only
                aggregated figures? How would residents be told, and how could they object?
                A public engagement session at the central library, attended by around
                forty people, raised concerns we had not anticipated, particularly about
                whether the data might be used to decide eligibility for services. We wrote
                a specific assurance into the agreement that it would not.
                """,
            ),
            (
                "What the linked data has shown so far",
                """
                The linked dataset went live at the start of this year. Within three months
                it showed that around one in eight people receiving home care had also had
                two or more unplanned hospital contacts in the previous year, and that these
                contacts often followed a change in their care package. That pattern was
                invisible in either dataset alone. Community teams now receive a weekly list
                of people whose package has recently changed, and a nurse or therapist
                makes a check-in call.

                It is too early to say whether this has reduced admissions, and we have
                committed to an independent evaluation before claiming success. What we can
                say is that the slow, careful route produced an agreement that staff trust
                and residents have not challenged. A faster route might have saved months
                and lost the public's confidence.

                For colleagues elsewhere, our practical advice is to involve information
                governance leads from the first meeting, map every data source and its
                contracts early, and talk to residents before the paperwork is finished
                rather than after.
                """,
            ),
        ],
    ),
    _doc(
        "saltmere-connections-loneliness-network",
        "post",
        "Small grants, strong ties: an older people's loneliness network in Saltmere",
        ["Ruth Penhale"],
        date(2025, 4, 10),
        """Instead of commissioning a new service, a coastal town's loneliness network
        backed existing lunch clubs, choirs and walking groups with a coordinator, link
        workers and small grants.""",
        [
            (
                "",
                """
                Saltmere is a coastal town where almost a third of residents are over 65,
                and where many moved in retirement, far from family. Two years ago a
                coalition of local groups, the district council and the town's primary care
                network set up the Saltmere Connections Network to tackle loneliness among
                older people. Rather than commissioning a single new service, the network
                chose to strengthen what already existed: lunch clubs, walking groups, a
                men's shed, a community choir, church coffee mornings and a lively bowls
                club.
                """,
            ),
            (
                "How the network works",
                """
                The network has three parts. A part-time coordinator, hosted by a local
                charity, keeps an up-to-date directory of activities and meets group
                organisers regularly. Social prescribing link workers in the GP practices
                refer people who seem isolated and, crucially, can accompany them to a
                first session. And a small grants fund, typically between \u00a3200 and
                \u00a31,500, lets groups pay for things that make it easier for new people
                to join: a minibus for a day trip, a hearing loop, or a volunteer driver's
                fuel.

                The grants are decided by a panel that includes two older residents as well
                as representatives of the council and the primary care network.
                Applications are a single page. Over two years the fund made 64 grants
                totalling just under \u00a348,000, a modest sum compared with the cost of a
                single new commissioned service.
                """,
            ),
            (
                "What people told us",
                """
                We interviewed 22 people who had been referred through the network. The most
                common theme was not the activity itself but the introduction. Several
                people said they had known about the lunch club or the choir for years but
                had never felt able to walk in alone. Being accompanied by a link worker on
                the first visit, and being greeted by name, made the difference. One woman,
                widowed two years earlier, described the bowls club as \u201cthe first place
                since the funeral where I wasn\u2019t someone to feel sorry for\u201d.

                Group organisers described a different benefit. The network's quarterly
                gatherings gave them a chance to meet one another, share volunteers and
                avoid clashing timetables. Two groups now run a joint Friday afternoon
                session because neither had enough members on its own.

                The network has weaknesses. It reaches people who are already in touch with
                their GP or a community group, and it is less good at finding those who are
                isolated and unknown to services. The coordinator post is funded year to
                year. But as a model of collaboration between statutory bodies and small
                community groups, it shows how much can be achieved by supporting what is
                already there.
                """,
            ),
        ],
    ),
)

# --------------------------------------------------------------------------- reports

_REPORTS = (
    _doc(
        "harrowfield-pooled-budget-evaluation",
        "report",
        "Shared Money, Shared Risk: An Evaluation of the Harrowfield Joint Commissioning "
        "Pooled Budget 2021\u20132024",
        ["Dr Alan Whitcombe", "Nadia Kerr", "Owen Pryce"],
        date(2024, 11, 12),
        """An independent evaluation of a three-year pooled budget for community support
        for adults with complex needs. Pooling simplified contracting and enabled one
        important reinvestment, but risk-sharing rules were never tested and the pattern
        of services changed little.""",
        [
            (
                "Summary",
                """
                This report presents the findings of an independent evaluation of the
                pooled budget established in April 2021 by Harrowfield Borough Council and
                the local NHS commissioning body to jointly commission community-based
                support for adults with complex needs. The pooled budget, worth around
                \u00a314.2 million a year by 2023/24, brought together spending on
                intermediate care, community equipment, reablement and a range of voluntary
                sector contracts under a single formal partnership agreement, overseen by a
                joint commissioning board.

                We found that the pooled budget succeeded in simplifying contracting and in
                creating a shared view of spending across health and social care. It
                enabled the partners to reinvest an underspend on reablement in 2022/23 in
                an expanded home-from-hospital service, a decision that would have been
                difficult under separate budgets. However, the pooled arrangement did not,
                on its own, change the pattern of services very much. Around 80 per cent of
                spending in the final year went on the same contracts and in-house services
                that had existed before the pool was created. Risk-sharing rules were agreed
                but never properly tested, and both partners told us they were uncertain
                how an overspend would be handled.

                We make seven recommendations, focused on clearer outcome measures, a tested
                risk-share agreement and a more deliberate programme of recommissioning.
                """,
            ),
            (
                "Background",
                """
                Harrowfield is a largely urban borough with a population of roughly 260,000
                and a higher than average proportion of adults living with two or more
                long-term conditions. For much of the previous decade the council and the
                NHS had operated what they called an aligned budget for intermediate care:
                each partner kept its own money and its own accounts, but the two agreed an
                annual plan and reported spending to a joint group. Reviews of that
                arrangement found that it produced good working relationships but little
                flexibility, because any movement of money between the two organisations
                required separate approval by each.

                In 2020 the partners agreed to move to a pooled budget from the following
                April. The stated aims were to reduce duplication in commissioning, to allow
                money to follow need across organisational boundaries, to support a shift
                from hospital and residential care towards care at home, and to improve
                outcomes for adults with complex needs. The council agreed to host the pool
                and to employ a lead commissioner, while the NHS seconded two commissioning
                managers into a joint team.

                The pool was governed by a joint commissioning board with four voting
                members from each partner and a rotating chair. Monthly finance reports
                were produced by the host, and a partnership agreement set out the scope of
                the pool, the contributions of each partner, the process for varying them
                and a risk-sharing formula under which any overspend would be split in
                proportion to each partner's contribution, subject to a cap.

                The evaluation was commissioned by the joint commissioning board in early
                2023, with the aim of informing a decision on whether to renew, expand or
                wind down the arrangement when the initial agreement expired.
                """,
            ),
            (
                "Methods",
                """
                We used a mixed-methods design combining documentary analysis, financial
                analysis, interviews and service activity data. We reviewed the papers and
                minutes of all 38 meetings of the joint commissioning board held between
                April 2021 and March 2024, together with the partnership agreement, its
                variations and the annual commissioning plans.

                For the financial analysis we obtained ledger extracts for the services in
                scope of the pool for the two years before it was created and the three
                years of its operation. We classified spending by service type and by
                contract, and traced each contract that existed before the pool to see
                whether it was renewed, varied, recommissioned or ended.

                We carried out 27 semi-structured interviews with commissioners, finance
                officers, provider managers, front-line team leaders and two elected
                members. Interviews lasted between 40 and 70 minutes and were recorded with
                consent, transcribed and analysed thematically using a coding frame agreed
                within the evaluation team. We also held two workshops with a total of 19
                provider organisations.

                Finally, we analysed routinely collected activity data on reablement
                episodes, equipment deliveries, intermediate care admissions and delayed
                discharges. There are important limitations. There is no comparison area,
                so we cannot say what would have happened without the pool. The first year
                of operation was heavily disrupted by the aftermath of the pandemic, and a
                change of case management system in the council in 2022 means that some
                activity measures are not directly comparable over time.
                """,
            ),
            (
                "Findings",
                """
                Governance and decision-making. Interviewees were almost unanimous that the
                joint commissioning board had become a more purposeful forum than the group
                it replaced. Board papers show a steady move from information items towards
                decisions: in the first year around a quarter of agenda items required a
                decision, rising to over half by the third year. However, several members
                felt that the board's formal authority was unclear, and in practice
                significant decisions were often taken in advance by senior officers of
                each partner and brought to the board for ratification.

                Spending patterns. Total spending within the pool grew from \u00a312.6
                million in 2021/22 to \u00a314.2 million in 2023/24, mostly because of
                inflationary uplifts to existing contracts. Of the 41 contracts that existed
                before the pool, 33 were renewed or extended with only minor variation, five
                were recommissioned with a changed specification and three were ended. The
                share of spending on care at home, as opposed to bed-based intermediate
                care, rose by only three percentage points over the period.

                Flexibility and reinvestment. The clearest example of the pool doing what it
                was designed to do came in 2022/23, when an underspend on reablement,
                caused by recruitment difficulties, was redirected by a board decision
                within a single meeting cycle to expand a home-from-hospital service run by
                a voluntary organisation. Under the previous aligned arrangement,
                interviewees agreed, the money would most likely have been returned to each
                partner's general reserves at year end.

                Risk sharing. Neither partner ever invoked the risk-sharing formula, because
                the pool did not overspend in any year. But interviews revealed that finance
                officers in the two organisations held different views about how the cap
                would operate, and about whether overspends driven by one partner's
                eligibility decisions would be shared. This uncertainty made some
                commissioners cautious about proposals that carried financial risk.

                Outcomes for residents. Activity data suggest modest improvements. The
                proportion of people still at home 91 days after discharge into reablement
                rose slightly, and the average wait for community equipment fell from nine
                days to six. We cannot attribute these changes to the pool with confidence,
                since other initiatives were under way at the same time.

                Relationships and culture. Many interviewees described the main benefit of
                the pool as relational: a joint team with a shared budget had, over three
                years, developed a common language and a habit of solving problems
                together. Providers valued having a single commissioning contact, although
                some smaller voluntary organisations felt that the joint team was harder to
                reach than the council officers they had previously dealt with.
                """,
            ),
            (
                "Recommendations",
                """
                1. Renew the pooled budget, but treat renewal as a chance to reset its
                purpose, with a short statement of the two or three changes in services that
                the partners most want the pool to achieve.

                2. Agree a small set of outcome measures for the pool, with baselines and
                targets, and report them to every board meeting alongside financial
                information.

                3. Test the risk-sharing formula through a desktop exercise using realistic
                overspend scenarios, and revise the partnership agreement to remove the
                ambiguities identified in this evaluation.

                4. Clarify the delegated authority of the joint commissioning board so that
                significant decisions are genuinely taken in the board rather than
                ratified by it.

                5. Develop a three-year recommissioning plan that reviews every contract in
                scope of the pool against the agreed priorities, rather than renewing
                contracts by default.

                6. Create a simple route for small voluntary organisations to raise issues
                with the joint team, such as a named link officer and quarterly provider
                forums.

                7. Build in a comparison group or a phased approach when introducing major
                service changes, so that future evaluations can say more about impact.
                """,
            ),
        ],
    ),
    _doc(
        "brackenvale-anti-poverty-interim-findings",
        "report",
        "Every Door the Right Door: Interim Findings from the Brackenvale Place-Based "
        "Anti-Poverty Programme",
        ["Dr Fiona Lister", "Kwame Asante"],
        date(2025, 3, 18),
        """Interim findings from the first two years of a place-based programme in three
        neighbourhoods that trained front-line staff across many organisations to ask
        about money worries and refer residents to advice, alongside community-led
        projects.""",
        [
            (
                "Summary",
                """
                The Brackenvale anti-poverty programme is a five-year, place-based
                initiative led by Brackenvale City Council with the local NHS, the housing
                association that owns most social housing in the area, the citizens' advice
                service, two credit unions and a network of community organisations. It
                works in three neighbourhoods with high rates of child poverty and
                problem debt. Its central idea, summed up in the phrase "every door the
                right door", is that residents should get help with money worries wherever
                they first ask, whether at a GP surgery, a school gate, a housing office or
                a food bank.

                This interim report covers the first two years. We found that the programme
                has trained more than 600 front-line workers to ask about money and to make
                warm referrals to advice, and that referrals to advice services from
                non-advice organisations roughly tripled. Residents who received advice
                reported an average annual financial gain of around \u00a31,900, mostly
                from unclaimed benefits. The programme has been less successful in
                shifting the practices of the larger statutory organisations, where
                referral rates vary widely between teams, and in reaching working families
                who do not see themselves as eligible for help. Community-led projects
                funded through a participatory grants process have built trust but are
                fragile. We recommend a sharper focus on a small number of high-volume
                referral routes and on sustaining community organisations beyond the life
                of the programme.
                """,
            ),
            (
                "Background",
                """
                Brackenvale is a city of around 310,000 people. Three of its neighbourhoods,
                referred to here as North Bank, Millfields and Copse Lane, have rates of
                child poverty well above the national average, along with high levels of
                household debt and poor health. Previous anti-poverty efforts in the city
                had mostly taken the form of separate projects funded by separate
                organisations, often for a year or two at a time.

                The programme was designed by a partnership board that included senior
                leaders from each of the main organisations and four residents recruited
                through community groups. Its theory of change rests on three ideas. First,
                many residents experiencing financial hardship are in regular contact with
                public services but are rarely asked about money. Second, advice on
                benefits, debt and housing costs can produce large and rapid financial gains
                for households. Third, lasting change depends on community organisations
                that residents already trust.

                The programme therefore has three strands: a workforce strand that trains
                staff across all partner organisations and sets up simple referral
                pathways to advice; an advice strand that funds additional advisers, some
                based in GP surgeries, schools and family hubs; and a community strand
                that distributes small grants through a participatory process in which
                residents vote on proposals. The programme has a budget of around \u00a36.5
                million over five years, drawn from the council, the NHS, the housing
                association and a charitable foundation.
                """,
            ),
            (
                "Methods",
                """
                This interim evaluation draws on four sources of evidence. First, we
                analysed monitoring data collected by the programme team, including
                training records, referral logs from a shared online referral form and
                advice case outcomes recorded by the advice providers. Second, we conducted
                a survey of front-line staff who had attended training, with 214
                responses, a response rate of around 35 per cent.

                Third, we carried out 31 interviews with programme leaders, managers and
                front-line staff in partner organisations, and 24 interviews with residents
                who had been referred to advice or had taken part in community projects.
                Resident interviews were arranged through community organisations, and
                participants received a shopping voucher to thank them for their time.
                Fourth, we observed six partnership board meetings and two participatory
                grants events.

                Financial gains reported by advice providers are self-reported by advisers
                based on the outcome of benefit claims and debt arrangements, and are not
                independently verified. Resident interviewees are likely to over-represent
                people who had a positive experience. We do not yet have data to assess
                effects on health, educational or employment outcomes, which will be
                examined in the final evaluation.
                """,
            ),
            (
                "Findings",
                """
                Reach of the workforce strand. By the end of the second year, 617 staff had
                completed the two-hour training session, including GP receptionists, school
                family support workers, housing officers, health visitors and food bank
                volunteers. In the staff survey, 81 per cent said they felt more confident
                asking about money, and 64 per cent said they had made at least one
                referral since the training.

                Referral volumes. Referrals to advice from organisations other than advice
                providers rose from an average of 46 a month before the programme to 138 a
                month in the second year. Schools and family hubs were the most productive
                sources relative to their size. Referral rates from hospital and
                council teams were much more variable: a small number of teams accounted
                for most referrals, while many teams with trained staff made none.

                Outcomes of advice. Among residents whose advice case had closed, the
                average recorded financial gain was about \u00a31,900 a year, with a
                median considerably lower, reflecting a small number of very large gains
                from disability benefits. The most common outcomes were successful claims
                for benefits that residents had not realised they were entitled to, and
                affordable repayment arrangements for council tax and energy debts.

                Resident experience. Residents valued being referred by someone they already
                knew, and many said they would not have contacted an advice service on
                their own. Several described feelings of shame about money that made the
                first conversation difficult. Working parents were under-represented among
                those referred, and interviews suggested that many did not think the help
                was meant for them.

                The community strand. Participatory grants events were well attended and
                funded 42 projects, from a community fridge to a homework club. Community
                organisations valued the recognition and the relationships with larger
                partners. But most projects were run by volunteers, and several struggled
                with the reporting requirements attached to the grants.

                Partnership working. Board members described strong commitment at senior
                level and unusually good relationships between organisations. However,
                decisions about embedding the approach in mainstream services, such as
                changing assessment forms to include a question about money, had moved
                slowly, often because they required changes to systems owned by individual
                organisations.

                Costs and value. The programme spent a little under \u00a32.4 million in
                its first two years, of which just over half went on additional advice
                capacity. Set against the recorded financial gains for residents, the
                advice strand appears to represent good value, although the comparison
                does not account for gains that residents might have obtained without the
                programme. The costs of staff time spent on training and referral were
                absorbed by partner organisations and are not included in these figures,
                which several managers felt made the programme look cheaper than it
                really was.

                Pressure on advice services. The rise in referrals created waiting lists.
                At the busiest point, residents referred to the citizens' advice service
                waited an average of three weeks for a first appointment, and some
                referrers told us they had become reluctant to ask about money when they
                could not offer help quickly. The programme responded by adding a
                telephone triage slot each weekday, which reduced waits for urgent cases.
                """,
            ),
            (
                "Recommendations",
                """
                1. Focus workforce effort on the handful of referral routes, such as schools,
                family hubs and GP practices, that produce most referrals, and support
                managers in low-referring teams to understand why.

                2. Build a money question into the standard assessment forms of the largest
                partner organisations, with a direct link to the shared referral form.

                3. Design outreach specifically for working families, for example through
                employers, nurseries and evening advice sessions, using language that does
                not assume people are in crisis.

                4. Simplify grant reporting for community projects and offer small amounts
                of core funding, alongside project grants, to the organisations that
                residents trust most.

                5. Agree now how advice capacity and the community strand will be sustained
                after the programme ends, rather than leaving the question to its final
                year.

                6. Strengthen data collection on health, education and employment outcomes
                so that the final evaluation can assess the programme's wider effects.

                7. Monitor waiting times for advice alongside referral volumes, and agree in
                advance how capacity will be increased when demand rises, so that staff can
                continue to ask about money with confidence that help will follow.
                """,
            ),
        ],
    ),
    _doc(
        "eastmere-youth-employment-partnership",
        "report",
        "Pathways Not Pipelines: Lessons from the Eastmere Youth Employment Partnership",
        ["Rebecca Thorne", "Dev Malhotra"],
        date(2023, 9, 27),
        """A review of a three-year partnership between a council, colleges, employers,
        the local jobcentre and youth charities that offered young people aged 16-24 a
        single key worker and flexible routes into work.""",
        [
            (
                "Summary",
                """
                The Eastmere Youth Employment Partnership was set up to reduce the number of
                young people aged 16 to 24 who are not in education, employment or
                training. It brought together Eastmere District Council, two further
                education colleges, the local jobcentre, three youth charities and a group
                of around 40 employers. Between 2020 and 2023 it worked with 1,140 young
                people, each supported by a single key worker who could draw on any of the
                partners' offers.

                Our review finds that the partnership's main achievement was to turn a
                confusing landscape of separate schemes into something young people
                experienced as one service. Around 58 per cent of participants moved into
                work, education or training within six months, and most of those were
                still there six months later. Young people valued the continuity of a
                single key worker above any particular programme. The partnership worked
                less well for young people with significant mental health needs, for
                whom the available support was too thin, and employer engagement relied
                heavily on a few committed firms. We recommend that the partnership keep the
                key worker model at its centre, build a closer link with mental health
                services and broaden its employer base through sector-based approaches.
                """,
            ),
            (
                "Background",
                """
                Eastmere is a mixed urban and rural district with a manufacturing heritage,
                a growing logistics sector and relatively poor public transport between its
                towns. Before the partnership was formed, a young person who left school
                without a clear plan might encounter a college re-engagement course, a
                jobcentre work coach, a charity mentoring programme and a council
                apprenticeship scheme, each with its own eligibility rules, referral forms
                and outcome targets. Staff in each organisation described spending a large
                part of their time working out which scheme a young person could join.

                The partnership was established with funding from the council, a national
                youth employment grant and in-kind contributions from the other members. It
                had three design principles. Young people would have a single key worker
                employed by whichever partner was best placed to support them. Partners
                would make their offers available through a shared menu that key workers
                could draw on without re-referral. And employers would be involved as
                partners in designing routes into work, not only as recipients of
                candidates.

                Key workers were employed by the youth charities, the colleges and the
                council, and met weekly as a single team. A small partnership unit hosted by
                the council maintained the shared menu, managed a common case record and
                coordinated employer engagement.

                The partnership began during a period of great uncertainty in the labour
                market. Many entry-level jobs in hospitality and retail disappeared for a
                time, while demand for warehouse and delivery staff grew quickly. Partners
                therefore spent much of the first year adapting their offers, and several
                planned employer programmes were postponed. By the third year demand for
                young workers had recovered, and the partnership's challenge shifted from
                finding opportunities to helping young people sustain them.
                """,
            ),
            (
                "Methods",
                """
                The review was carried out over five months in 2023. We analysed anonymised
                case records for all 1,140 participants, including their characteristics at
                entry, the support they received and their recorded destinations at six and
                twelve months after leaving. We compared these destinations with figures
                for the district before the partnership, while recognising that the labour
                market changed considerably over the period.

                We interviewed 18 key workers and managers, 12 employers and 26 young
                people, including some who had dropped out. Interviews with young people
                were carried out by two peer researchers aged 19 and 22 who had been
                trained and paid by the review team, which we believe led to more candid
                accounts. We also ran a short online survey of participating employers,
                which received 23 responses.

                Destination data for young people who lost contact with the partnership
                are incomplete, and so our headline figures are likely to overstate
                positive outcomes somewhat. We have not attempted an economic evaluation.
                """,
            ),
            (
                "Findings",
                """
                One service from many. Young people rarely knew, or cared, which
                organisation employed their key worker. What they noticed was that they did
                not have to repeat their story and that their key worker could arrange a
                college taster, a work trial or a bus pass without sending them elsewhere.
                Key workers described the shared menu as the single most useful tool they
                had, although keeping it up to date was a constant task for the
                partnership unit.

                Destinations. Of the 1,140 participants, 58 per cent were recorded in work,
                education or training six months after leaving, and 49 per cent at twelve
                months. Apprenticeships and college courses accounted for about half of
                positive destinations. Outcomes were noticeably better for young people
                who had at least ten contacts with their key worker, although this partly
                reflects the fact that those who engaged more were already more likely to
                succeed.

                Mental health. Around a third of participants disclosed anxiety or
                depression at entry. Key workers felt ill-equipped to support those with
                more serious needs, and waiting times for specialist services were long.
                These young people were much more likely to disengage.

                Employers. A core of about a dozen employers offered most of the work
                trials and apprenticeships. They valued the partnership's preparation of
                candidates and the continuing support after a young person started work.
                Many other employers signed up but offered few opportunities, often because
                the partnership's approach did not fit their recruitment cycles.

                Transport. Poor public transport emerged as a practical barrier that
                no single partner owned. Travel support from the shared menu helped, but
                some opportunities were simply out of reach.

                Partnership working. Partners agreed that the weekly key worker meeting and
                a shared case record were the backbone of the partnership. Tensions arose
                over outcome targets, since each funder still counted outcomes in its own
                way, and some partners worried that their contribution was not visible.

                Young people's own priorities. The peer researchers found that young people
                judged the partnership less by the jobs or courses it found them than by
                how they were treated along the way. Several described earlier schemes as
                "a pipeline" that moved them from one course to the next without asking
                what they wanted. By contrast, they described their key workers as people
                who remembered their plans, rang back when promised and did not give up on
                them after a missed appointment. Young people who dropped out most often
                cited a change of key worker, a move of home or a family crisis, rather
                than dissatisfaction with the support on offer.

                Sustaining work. Key workers continued to offer support for up to six months
                after a young person started a job, usually through text messages and
                occasional meetings. Employers valued this highly, and several said it had
                prevented a young employee from leaving after a difficult first few weeks.
                This in-work support was not part of the original design and was provided
                at the cost of smaller caseloads elsewhere.
                """,
            ),
            (
                "Recommendations",
                """
                1. Keep the single key worker model and the shared menu at the centre of the
                partnership, and fund the partnership unit that maintains them on a
                multi-year basis.

                2. Agree a joint pathway with local mental health services, including a named
                clinical contact for key workers and training in supporting young people
                with anxiety and depression.

                3. Broaden employer engagement through sector-based groups, starting with
                logistics and health and care, so that routes into work match real
                recruitment cycles.

                4. Work with the council's transport team and local operators on travel
                options for young people in rural areas, including shared transport to
                major employment sites.

                5. Adopt a single set of outcome measures across all funders, and report
                each partner's contribution alongside shared results.

                6. Continue to involve young people as peer researchers in future reviews.
                """,
            ),
        ],
    ),
    _doc(
        "who-holds-the-pen-partnership-boards",
        "report",
        "Who Holds the Pen? Governance and Accountability in 38 Local Partnership Boards",
        ["Prof. Miriam Calder", "Samuel Okafor"],
        date(2024, 7, 2),
        """A survey and case-study study of 38 local partnership boards covering health,
        community safety, children's services and economic development, asking who
        sets agendas, who holds budgets and how boards are held to account.""",
        [
            (
                "Summary",
                """
                Local partnership boards have multiplied over the past two decades. Most
                areas now have boards or partnerships for health and wellbeing,
                safeguarding, community safety, children and young people, economic
                development and more. They are meant to bring organisations together to
                solve shared problems, but little is known about how they actually work.

                This study examined 38 boards in eleven local areas using a
                survey of board members, analysis of board papers and six in-depth case
                studies. We found that most boards are dominated by a single host
                organisation, which writes the papers, sets the agenda and, in practice,
                decides what the board discusses. Fewer than a third of boards controlled
                any budget of their own. Accountability to the public was generally weak:
                board papers were often published late or not at all, and few boards
                reported progress against measurable objectives. Boards that worked well
                shared three features: a rotating or independent chair, a small
                secretariat funded by several partners, and a short list of priorities on
                which partners took specific actions. We recommend that local areas review
                their boards together rather than one at a time, and consider merging
                boards with overlapping membership.
                """,
            ),
            (
                "Background",
                """
                Partnership boards in English local government take many forms. Some are
                required by law, with membership and duties set out nationally; others are
                voluntary arrangements created locally to tackle a particular problem.
                Typically they include senior representatives of the council, the NHS, the
                police and the voluntary sector, and they meet between four and twelve
                times a year.

                Critics have argued that the growth of boards has produced a "partnership
                fatigue" in which the same senior people attend many meetings that
                discuss overlapping issues without clear results. Supporters counter that
                boards provide a space where relationships are built and problems that
                cross organisational boundaries can be raised. Both views rest largely on
                anecdote, and previous research has tended to study one type of board at a
                time.

                This study set out to look across board types and to ask three questions.
                Who sets the agenda and holds the pen on board papers? What resources and
                authority do boards control? And how are boards held to account, both by
                their member organisations and by the public? The study was designed with
                an advisory group of board chairs, officers and two community
                representatives.

                The study was carried out at a time of considerable change in local
                governance. Several areas were reorganising health partnerships, and new
                statutory duties had added further boards in some places. Many of the
                people we spoke to were therefore already asking whether their local
                arrangements had become too complicated, and several areas used our early
                findings in their own reviews.
                """,
            ),
            (
                "Methods",
                """
                We selected eleven local areas to reflect a range of sizes, geographies and
                governance arrangements, and identified all formally constituted
                partnership boards in each area. Of 46 boards identified, 38 agreed to take
                part.

                We surveyed members of participating boards, receiving 296 responses from
                a possible 612, a response rate of 48 per cent. The survey covered members'
                roles, their views of the board's purpose and effectiveness, and their
                perceptions of influence. We then analysed the papers and minutes for each
                board over a two-year period, coding agenda items by type, originating
                organisation and whether a decision was recorded.

                Six boards were selected for in-depth case studies, chosen to include
                boards that members rated highly and boards rated poorly. In each case study
                we observed two meetings and interviewed between six and nine members and
                officers, 44 interviews in all.

                The survey sample over-represents members from the public sector, and
                self-reported views of effectiveness should be treated with caution. Board
                papers vary in completeness, and some decisions are likely to have been
                taken outside formal meetings and not recorded.
                """,
            ),
            (
                "Findings",
                """
                Who holds the pen. In 29 of the 38 boards, more than three quarters of
                agenda items originated with a single host organisation, usually the
                council. Members from other organisations reported that they rarely
                proposed items and often saw papers only a few days before meetings.
                Several interviewees described their role as "being briefed" rather than
                deciding.

                Resources and authority. Eleven boards controlled a budget of their own,
                ranging from a few thousand pounds to several million. Boards with a budget
                recorded decisions on a much higher share of agenda items than those
                without. Most boards relied on partners to act through their own
                governance, and minutes rarely recorded which organisation had committed to
                do what.

                Overlap. In the typical area we studied, the same small group of senior
                leaders sat on four or five boards. Across areas, 40 per cent of agenda
                items on one board also appeared, in similar form, on another board in the
                same area within six months.

                Accountability. Only 14 boards published their papers routinely before
                meetings. Few had measurable objectives, and fewer still reported progress
                against them. Members told us that boards were rarely held to account by
                their own organisations: attendance was expected, but outcomes were not
                reviewed.

                What good looked like. The boards that members rated most highly shared
                three features. Their chairs rotated between partners or were independent,
                which reduced the dominance of the host. They had a small secretariat
                funded jointly by several partners, which gave other organisations a stake
                in preparing papers. And they focused on a short list of priorities, with
                specific and recorded actions for named partners. Two of the six case
                study boards had recently cut the number of priorities from over a dozen
                to three, and members described the change as transformative.

                Community voice. Community and voluntary sector members were present on 33
                boards but reported the lowest sense of influence in the survey. Case study
                boards that had created a standing item for community concerns, or held
                some meetings in community venues, reported better engagement.

                The cost of meetings. We estimated the time that senior leaders spent on
                board business in a typical area, including preparation and travel. In the
                median area, the boards we studied consumed the equivalent of about three
                full-time senior posts each year. Members were rarely aware of this figure,
                and several were surprised by it. Few boards had ever asked whether their
                meetings could be shorter, less frequent or combined with others.

                Change over time. Boards that had existed for longer were not, in general,
                more effective. Some of the most highly rated boards were recent creations
                with a specific task, while several long-established boards had drifted
                into routine reporting. Members of those boards often described them as
                useful for "keeping in touch" but could not name a decision that had
                changed what their organisation did.
                """,
            ),
            (
                "Recommendations",
                """
                1. Local areas should review all their partnership boards together, mapping
                membership, agendas and priorities, and consider merging boards whose work
                substantially overlaps.

                2. Boards should adopt rotating or independent chairs and share the cost
                and work of the secretariat among several partners.

                3. Each board should agree no more than three to five priorities with
                measurable objectives, and record specific actions by named organisations
                at every meeting.

                4. Papers should be published at least a week before meetings, with a short
                public summary of decisions afterwards.

                5. Member organisations should review the outcomes of the boards they sit
                on at least once a year through their own governance.

                6. Boards should give community members equal access to agenda setting, for
                example through a standing item and support to prepare for meetings.
                """,
            ),
        ],
    ),
)

DOCUMENTS: tuple[DemoDocument, ...] = _POSTS + _REPORTS
"""All demo publications: seven posts then four reports."""

POSTS: tuple[DemoDocument, ...] = _POSTS
"""The blog posts (``kind == "post"``)."""

REPORTS: tuple[DemoDocument, ...] = _REPORTS
"""The reports (``kind == "report"``)."""


def get(slug: str) -> DemoDocument:
    """Return the document with this slug; raises ``KeyError`` when there is none."""
    for document in DOCUMENTS:
        if document.slug == slug:
            return document
    raise KeyError(slug)
