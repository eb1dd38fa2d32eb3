"""People and organisations of the demo town: Russian names with the right
gender forms, contacts, and the owners of a premise with their shares."""
import datetime as dt
from dataclasses import dataclass

from . import names
from .identifiers import inn_with_check_digits, kpp, ogrn_with_check_digit

# Masculine surname endings and their feminine forms; other surnames
# (Черных, Шевченко, Ким) are the same for both.
_FEMININE_ENDINGS = (
    ('ский', 'ская'), ('цкий', 'цкая'), ('ов', 'ова'), ('ёв', 'ёва'),
    ('ев', 'ева'), ('ин', 'ина'))
# Household kinds with their weights and the owners' shares: (roles,
# shares).
_HOUSEHOLDS = (
    (35, ('adult',), ('1',)),
    (33, ('husband', 'wife'), ('1/2', '1/2')),
    (15, ('husband', 'wife', 'child'), ('1/3', '1/3', '1/3')),
    (10, ('mother', 'child', 'child'), ('1/2', '1/4', '1/4')),
    (7, ('adult', 'sibling'), ('2/3', '1/3')),
    )
_HOUSEHOLD_WEIGHTS = tuple(h[0] for h in _HOUSEHOLDS)
_GENDER_OF_ROLE = {
    'husband': 'male', 'wife': 'female', 'mother': 'female'}
_GENDERS = ('male', 'female')


@dataclass(slots=True)
class Person:
    code: str
    surname: str
    first_name: str
    patronymic: str
    gender: str  # 'male' or 'female'
    birth_date: dt.date
    phone: str | None
    email: str | None
    inn: str | None

    @property
    def full_name(self):
        return f'{self.surname} {self.first_name} {self.patronymic}'


@dataclass(slots=True)
class Organisation:
    inn: str
    kpp: str
    ogrn: str
    name: str
    address: str
    phone: str
    email: str


@dataclass(slots=True)
class Ownership:
    party: Person | Organisation
    share: str  # a fraction such as '1/2'; the shares of a premise sum to 1


def feminine_surname(surname):
    for masculine, feminine in _FEMININE_ENDINGS:
        if surname.endswith(masculine):
            return surname[:-len(masculine)] + feminine
    return surname


def transliterate(text):
    return ''.join(names.TRANSLITERATION.get(c, c)
        for c in text.lower())


def mobile_phone(rng):
    return (f'+7 9{rng.randrange(100):02d} {rng.randrange(1000):03d}-'
        f'{rng.randrange(100):02d}-{rng.randrange(100):02d}')


def city_phone(rng):
    return (f'+7 ({names.PHONE_CODE}) {rng.randrange(20, 100)}-'
        f'{rng.randrange(100):02d}-{rng.randrange(100):02d}')


def _birth_date(rng, first_year, last_year):
    return dt.date(rng.randint(first_year, last_year), 1, 1) \
        + dt.timedelta(days=rng.randrange(365))


class PeopleFactory:
    "Makes people with codes and personal ИНН unique in one town."

    def __init__(self, today):
        self.today = today
        self.count = 0

    def person(self, rng, gender, surname, father, first_name=None,
            adult=True):
        """A person of a gender with the family's masculine surname and
        the patronymic from ``father``, an entry of names.MALE_NAMES."""
        self.count += 1
        male = gender == 'male'
        year = self.today.year
        birth_date = (_birth_date(rng, year - 85, year - 22) if adult
            else _birth_date(rng, year - 17, year - 2))
        phone = mobile_phone(rng) if adult and rng.random() < 0.85 else None
        if first_name is None:
            first_name = (rng.choice(names.MALE_NAMES)[0] if male
                else rng.choice(names.FEMALE_NAMES))
        surname = surname if male else feminine_surname(surname)
        email = None
        if adult and rng.random() < 0.35:
            email = (f'{transliterate(first_name)}.'
                f'{transliterate(surname)}{rng.randrange(1, 100)}@'
                f'{rng.choice(names.E_MAIL_DOMAINS)}')
        inn = None
        if adult and rng.random() < 0.3:
            # The region's digits and the person's number keep it unique.
            inn = inn_with_check_digits(
                f'{names.REGION_CODE}{self.count:08d}')
        return Person(
            code=f'{self.count:08d}', surname=surname,
            first_name=first_name, patronymic=father[1 if male else 2],
            gender=gender, birth_date=birth_date, phone=phone, email=email,
            inn=inn)

    def owners(self, rng):
        "The owners of an apartment: one household and its shares."
        _, roles, shares = rng.choices(
            _HOUSEHOLDS, weights=_HOUSEHOLD_WEIGHTS)[0]
        surname = rng.choice(names.SURNAMES)
        # The father of the children (the husband, if he owns a share) and
        # of siblings; spouses and the mother have fathers of their own.
        father = rng.choice(names.MALE_NAMES)
        owners = []
        for role, share in zip(roles, shares, strict=True):
            gender = _GENDER_OF_ROLE.get(role) or rng.choice(_GENDERS)
            own_father = (father if role in ('adult', 'sibling', 'child')
                else rng.choice(names.MALE_NAMES))
            person = self.person(
                rng, gender, surname, own_father,
                first_name=father[0] if role == 'husband' else None,
                adult=role != 'child')
            owners.append(Ownership(person, share))
        return tuple(owners)


def organisations(rng, count, streets):
    """Firms owning the shops on ground floors, with valid ИНН, КПП and
    ОГРН; ``streets`` are the addresses' (kind, name) pairs."""
    result = []
    for index in range(count):
        office = rng.choice(names.TAX_OFFICES)
        sequence = f'{index + 1:05d}'
        kind, street = rng.choice(streets)
        name = rng.choice(names.ORGANISATION_NAMES)
        inn = inn_with_check_digits(office + sequence)
        result.append(Organisation(
                inn=inn, kpp=kpp(office),
                ogrn=ogrn_with_check_digit(
                    f'1{rng.randint(2, 23):02d}{names.REGION_CODE}'
                    f'{office[2:]}{sequence}'),
                name=f'{rng.choice(names.LEGAL_FORMS)} «{name}»',
                address=f'{names.REGION}, г. {names.CITY}, {kind} {street}, '
                f'д. {rng.randint(1, 120)}, пом. {rng.randint(1, 12)}Н',
                phone=city_phone(rng),
                email=f'info{index + 1}@{rng.choice(names.E_MAIL_DOMAINS)}'))
    return tuple(result)
