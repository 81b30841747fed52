"""Hand-written calibration text for the int8 encoder's SmoothQuant scales
(:func:`indexes.onnx_export.smooth_model`): encyclopedia-style passages and questions written for
this project (no dataset text), covering people, places, dates, numbers, sport, science, film and
music, as the passages and questions the encoder reads do. Only each input channel's largest
activation is taken from them.
"""

from __future__ import annotations

CALIBRATION_TEXTS = (
    "Who won the men's singles title at the first tennis tournament held on clay in 1925?",
    "When did the river bridge in the old town first open to traffic?",
    "How many people lived in the county at the time of the last census?",
    "Which actor played the younger brother in the 2004 television adaptation?",
    "What is the boiling point of water at the top of a high mountain?",
    "Where was the treaty that ended the war between the two kingdoms signed?",
    "Who is the current head coach of the national women's football team?",
    "What year was the band's debut album released in Japan?",
    "Maria Lindqvist (born 14 March 1961) is a Swedish chemist known for her work on catalysts. "
    "She taught at Uppsala University from 1990 to 2015 and received the national science prize in 2003.",
    "The Harbour Line is a commuter railway of 42 kilometres with 17 stations. It opened in 1911 "
    "and was electrified in 1958; about 120,000 passengers use it on a weekday.",
    "Blue Hollow is a 1997 American drama film directed by Ray Castle and starring Ann Moreau. "
    "It premiered at a festival in Toronto and earned $12.4 million at the box office.",
    "The 1986 season was the club's 40th in the top division. The team finished third, scoring 71 "
    "goals in 34 matches, and reached the final of the cup, losing 2-1 after extra time.",
    "Greenford (population 8,312 in 2010) is a town in the north of the state, on the east bank of "
    "the river. It was founded in 1848 by settlers from Ohio and is the seat of Pine County.",
    "Photosynthesis converts light energy into chemical energy stored in glucose. In plants it takes "
    "place in the chloroplasts, using water and carbon dioxide and releasing oxygen.",
    "\"Summer Rain\" is a song by the pop group Northway from their second album, Lanterns (1999). "
    "It reached number 4 on the UK Singles Chart and number 21 in Australia.",
    "The Battle of Kessel Ford was fought on 9 October 1643 between royalist and parliamentary forces. "
    "About 3,000 soldiers took part; the royalists withdrew after losing their commander.",
    "The Ministry of Transport is responsible for roads, railways, ports and civil aviation. The "
    "current minister, appointed in January 2021, is a member of the Liberal Party.",
    "Mount Aldren is the highest peak of the range at 4,211 metres. Its first recorded ascent was "
    "made in 1874 by a party of three guides; the normal route takes two days.",
    "The species grows to 30 cm and feeds mainly on insects and small fish. It is found in slow rivers "
    "and lakes of central Europe and is listed as near threatened.",
    "Jonas Heller (1902-1977) was a German-born American composer and conductor. He wrote the scores "
    "for more than forty films and won two Academy Awards for Best Original Score.",
    "The stadium, which seats 52,000, hosted the final of the 1994 championship and the athletics "
    "events of the regional games in 2002. It was renovated between 2015 and 2017.",
    "In mathematics, a prime number is a natural number greater than 1 that has no positive divisors "
    "other than 1 and itself; 2, 3, 5, 7 and 11 are the first five primes.",
    "The university was established by royal charter in 1583 and is the country's oldest. It has "
    "about 35,000 students in eleven faculties, and its library holds three million volumes.",
    "Episode 7 of the third season aired on 12 November 2009 and was watched by 6.1 million viewers. "
    "It was written by Sara Kim and directed by Tom Alvarez.",
    "yes", "no", "1998", "Paris, France", "the Democratic Party", "Queen Elizabeth II",
)
