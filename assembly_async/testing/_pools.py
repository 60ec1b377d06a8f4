"""Word pools for realistic synthetic UK school data (all invented)."""

from __future__ import annotations

FIRST_F = (
    "Olivia", "Amelia", "Isla", "Ava", "Mia", "Ivy", "Lily", "Isabella", "Rosie", "Sophia",
    "Grace", "Freya", "Willow", "Florence", "Emily", "Ella", "Poppy", "Evie", "Elsie", "Charlotte",
    "Aisha", "Maryam", "Zara", "Hannah", "Chloe", "Jessica", "Sienna", "Phoebe", "Ruby", "Megan",
)
FIRST_M = (
    "Oliver", "George", "Noah", "Arthur", "Muhammad", "Leo", "Harry", "Oscar", "Archie", "Henry",
    "Theodore", "Freddie", "Jack", "Charlie", "Theo", "Alfie", "Jacob", "Thomas", "William",
    "Lucas",
    "Ibrahim", "Yusuf", "Kai", "Joshua", "Samuel", "Daniel", "Ethan", "Reuben", "Finley", "Callum",
)
NICKNAMES = {
    "William": "Will", "Thomas": "Tom", "Samuel": "Sam", "Daniel": "Dan", "Jessica": "Jess",
    "Charlotte": "Lottie", "Isabella": "Bella", "Theodore": "Teddy", "Joshua": "Josh",
}
SURNAMES = (
    "Smith", "Jones", "Williams", "Taylor", "Brown", "Davies", "Evans", "Wilson", "Thomas",
    "Johnson",
    "Roberts", "Robinson", "Thompson", "Wright", "Walker", "White", "Edwards", "Hughes", "Green",
    "Hall", "Lewis", "Harris", "Clarke", "Patel", "Jackson", "Wood", "Turner", "Martin", "Cooper",
    "Hill", "Ward", "Morris", "Moore", "Clark", "Lee", "King", "Baker", "Harrison", "Morgan",
    "Allen",
    "Khan", "Ali", "Begum", "Hussain", "Ahmed", "Nowak", "Kowalski", "O'Brien", "Murphy",
    "Campbell",
)
TOWNS = (
    ("Leeds", "West Yorkshire", "LS"), ("Sheffield", "South Yorkshire", "S"),
    ("Bristol", "Bristol", "BS"), ("Norwich", "Norfolk", "NR"), ("Reading", "Berkshire", "RG"),
    ("Derby", "Derbyshire", "DE"), ("Exeter", "Devon", "EX"), ("York", "North Yorkshire", "YO"),
    ("Leicester", "Leicestershire", "LE"), ("Coventry", "West Midlands", "CV"),
)
STREETS = (
    "High Street", "Station Road", "Church Lane", "Park Avenue", "Victoria Road", "Mill Lane",
    "Queens Road", "The Green", "Manor Way", "Kings Drive", "Orchard Close", "Windsor Crescent",
)
SCHOOL_NAMES = (
    "Oakfield Academy", "St Mary's Catholic High School", "Riverside Community College",
    "Hillcrest School", "Kingsmead Academy", "Northgate High School", "Beechwood School",
    "Meadowbank Academy", "Ashford Park School", "Greenhill College",
)
LA_NAMES = (
    (383, "Leeds"), (373, "Sheffield"), (801, "Bristol, City of"), (926, "Norfolk"),
    (870, "Reading"), (831, "Derby"), (878, "Devon"), (816, "York"), (856, "Leicester"),
    (331, "Coventry"),
)
MIS_PROVIDERS = ("SIMS", "Arbor", "Bromcom", "Scholarpack", "iSAMS")

ETHNICITIES = (
    ("WBRI", "White"), ("WBRI", "White"), ("WBRI", "White"), ("WIRI", "White"), ("WOTH", "White"),
    ("WROM", "White"), ("MWBC", "Mixed"), ("MWBA", "Mixed"), ("MWAS", "Mixed"), ("AIND", "Asian"),
    ("APKN", "Asian"), ("ABAN", "Asian"), ("BCRB", "Black"), ("BAFR", "Black"),
    ("CHNE", "Chinese"), ("OOTH", "Any other ethnic group"), ("REFU", "Unclassified"),
    ("NOBT", "Unclassified"),
)
LANGUAGES = (
    ("ENG", "English"), ("ENG", "English"), ("ENG", "English"), ("ENG", "English"),
    ("POL", "Polish"), ("URD", "Urdu"), ("PNJ", "Panjabi"), ("BNG", "Bengali"),
    ("ROM", "Romanian"), ("ARA", "Arabic"), ("SOM", "Somali"),
)
PROFICIENCY = (
    ("A", "New to English"), ("B", "Early acquisition"), ("C", "Developing competence"),
    ("D", "Competent"), ("E", "Fluent"),
)
NATIONALITIES = ("British", "Polish", "Pakistani", "Indian", "Romanian", "Irish", "Nigerian")
COUNTRIES = ("United Kingdom", "Poland", "Pakistan", "India", "Romania", "Ireland", "Nigeria")
SEN_NEEDS = (
    ("SLCN", "Speech, language and communication needs", "COIN", "Communication and interaction"),
    ("ASD", "Autistic spectrum disorder", "COIN", "Communication and interaction"),
    ("SEMH", "Social, emotional and mental health", "SEMH", "Social, emotional and mental health"),
    ("SPLD", "Specific learning difficulty", "COLE", "Cognition and learning"),
    ("MLD", "Moderate learning difficulty", "COLE", "Cognition and learning"),
    ("VI", "Visual impairment", "SPHY", "Sensory and/or physical"),
)
SEN_CATEGORIES = (("K", "SEN support"), ("E", "Education, health and care plan"))
MEDICAL_CONDITIONS = (
    ("ASTH", "Asthma"), ("EPIL", "Epilepsy"), ("DIAB", "Diabetes (Type 1)"),
    ("ANAP", "Anaphylaxis (nut allergy)"), ("ECZM", "Eczema"), ("ADHD", "ADHD"),
)
DIETARY_NEEDS = (
    ("VEG", "Vegetarian"), ("VGN", "Vegan"), ("HAL", "Halal"), ("KOS", "Kosher"),
    ("GLU", "Gluten free"), ("NUT", "Nut free"), ("LAC", "Lactose free"),
)
RELATIONSHIPS = (
    ("Mother", "F"), ("Father", "M"), ("Grandmother", "F"), ("Grandfather", "M"),
    ("Step-father", "M"), ("Aunt", "F"), ("Carer", "F"),
)
STAFF_TITLES_F = ("Mrs", "Ms", "Miss", "Dr")
STAFF_TITLES_M = ("Mr", "Mr", "Mr", "Dr")
STAFF_POSTS = (
    ("Teacher", "Classroom Teacher", True), ("Teacher", "Head of Department", True),
    ("Teacher", "Head of Year", True), ("Teaching Assistant", "Teaching Assistant", False),
    ("Administrator", "Office Manager", False), ("Technician", "Science Technician", False),
)
SUBJECTS = (
    ("MA", "Mathematics"), ("EN", "English"), ("SC", "Science"), ("HI", "History"),
    ("GG", "Geography"), ("FR", "French"), ("SP", "Spanish"), ("AR", "Art and Design"),
    ("MU", "Music"), ("PE", "Physical Education"), ("CO", "Computing"),
    ("RE", "Religious Education"), ("DT", "Design and Technology"), ("DR", "Drama"),
)
HOUSES = ("Austen", "Brunel", "Darwin", "Franklin", "Newton", "Seacole")
USER_GROUPS = (
    "Year 9 Paris Trip", "Duke of Edinburgh Bronze", "Chess Club", "Debating Society",
    "Gifted and Talented", "Homework Club",
)
ROOM_KINDS = (
    ("S", "Science Lab", 30), ("M", "Maths Room", 32), ("E", "English Room", 32),
    ("IT", "ICT Suite", 28), ("G", "Gym", 60), ("A", "Art Studio", 24), ("H",
    "Humanities Room", 32),
)
CALENDAR_EVENTS = (
    ("Event", "Sports Day"), ("Event", "School Play"), ("Meeting", "Parents' Evening"),
    ("Meeting", "Governors' Meeting"), ("Inset", "INSET Day"), ("Holiday", "Half Term"),
    ("Event", "Open Evening"), ("Meeting", "Staff Briefing"), ("Holiday", "Bank Holiday"),
)
ATTENDANCE_MARKS = ("/", "\\", "/", "\\", "/", "\\", "/", "\\", "L", "I", "M", "N", "C", "U")
ABSENCE_CATEGORIES = (
    ("Sickness", "SIC", "Cold/Flu"), ("Sickness", "SIC", "Back problems"),
    ("Training", "TRN", None), ("Compassionate", "CMP", None), ("Jury Service", "JUR", None),
)
EXCLUSION_REASONS = (
    "Persistent disruptive behaviour", "Verbal abuse/threatening behaviour against an adult",
    "Physical assault against a pupil", "Damage", "Bullying",
    "Use or threat of use of an offensive weapon",
)
QUALIFICATIONS = (
    ("BA", "First", "100300", "History"), ("BSc", "Upper Second", "100403", "Mathematics"),
    ("PGCE", None, "100459", "Education"), ("BSc", "Lower Second", "100390", "Chemistry"),
    ("BA", "Upper Second", "100319", "English Literature"),
)
LEARNING_AIMS = (
    ("A level in Mathematics", "601/4881/6", "2210", "Mathematics"),
    ("A level in English Literature", "601/4588/8", "5030", "English Literature"),
    ("A level in Chemistry", "601/4443/3", "1110", "Chemistry"),
    ("BTEC National Extended Certificate in Sport", "601/7214/1", "CB2", "Sport"),
    ("Level 3 Extended Project Qualification", "601/3839/6", "EPQ", "Extended Project"),
)
