"""Writes monitor/core/places/data/kazakhstan.toml: the regions of Kazakhstan beyond the three detailed ones.

python scripts/national_places.py   (the TOML is committed; edit the table here and re-run)

Each region: its names (ru adjective stem needing "область", kk/en names needing "облысы"/"region"), its
main towns (matched alone, or only next to a town word when the name is also a common word or a person),
and its districts (Russian adjective stems, or names next to "район"/"ауданы"/"district").
"""

from __future__ import annotations

from pathlib import Path

# region: (region names next to a region word, [(town, district, names, town-word-only names)],
#          [(district, names next to a district word incl. ru adjective stems)])
Town = tuple[str, str | None, list[str], list[str]]
REGIONS: dict[str, tuple[list[str], list[Town], list[tuple[str, list[str]]]]] = {
    "Abai Region": (
        ["абайск*", "Абай", "Abai", "Abay"],
        [("Semey", None, ["Семей", "Семея", "Семипалатинск", "Semey", "Semei", "Semipalatinsk"], []),
         ("Kurchatov", None, ["Курчатов", "Kurchatov"], []),
         ("Ayagoz", "Ayagoz", ["Аягоз", "Аягуз", "Ayagoz"], []),
         ("Urzhar", "Urzhar", ["Урджар", "Үржар", "Urzhar", "Urjar"], [])],
        [("Ayagoz", ["аягозск*", "Аягоз", "Ayagoz"]), ("Beskaragai", ["бескарагайск*", "Бесқарағай", "Beskaragai"]),
         ("Borodulikha", ["бородулихинск*", "Бородулиха", "Borodulikha"]), ("Zharma", ["жарминск*", "Жарма", "Zharma"]),
         ("Kokpekty", ["кокпектинск*", "Көкпекті", "Kokpekty"]), ("Urzhar", ["урджарск*", "Үржар", "Urzhar"]),
         ("Makanshy", ["маканшинск*", "Мақаншы", "Makanshy"]), ("Aksuat", ["аксуатск*", "Ақсуат", "Aksuat"])],
    ),
    "Akmola Region": (
        ["акмолинск*", "Ақмола", "Акмола", "Akmola", "Aqmola"],
        [("Kokshetau", None, ["Кокшетау", "Көкшетау", "Kokshetau", "Kökşetau"], []),
         ("Stepnogorsk", None, ["Степногорск", "Stepnogorsk"], []),
         ("Shchuchinsk", "Burabay", ["Щучинск", "Shchuchinsk"], []),
         ("Atbasar", "Atbasar", ["Атбасар", "Atbasar"], []),
         ("Makinsk", "Bulandy", ["Макинск", "Makinsk"], []),
         ("Kosshy", "Tselinograd", ["Косшы", "Қосшы", "Kosshy"], [])],
        [("Akkol", ["аккольск*", "Ақкөл", "Akkol"]), ("Arshaly", ["аршалынск*", "Аршалы", "Arshaly"]),
         ("Astrakhan", ["астраханск*", "Астрахан", "Astrakhan"]), ("Atbasar", ["атбасарск*", "Atbasar"]),
         ("Bulandy", ["буландынск*", "Буланды", "Bulandy"]), ("Burabay", ["бурабайск*", "Бурабай", "Burabay"]),
         ("Yesil", ["есильск*", "Есіл", "Yesil"]), ("Zerendi", ["зерендинск*", "Зеренді", "Zerendi"]),
         ("Korgalzhyn", ["коргалжынск*", "Қорғалжын", "Korgalzhyn"]),
         ("Tselinograd", ["целиноградск*", "Целиноград", "Tselinograd"]),
         ("Shortandy", ["шортандинск*", "Шортанды", "Shortandy"]), ("Sandyktau", ["сандыктауск*", "Сандықтау"]),
         ("Yereymentau", ["ерейментауск*", "Ерейментау", "Yereymentau"]), ("Zhaksy", ["жаксынск*", "Жақсы"]),
         ("Zharkain", ["жаркаинск*", "Жарқайың"]), ("Yegindykol", ["егиндыкольск*", "Егіндікөл"]),
         ("Enbekshilder", ["енбекшильдерск*", "Еңбекшілдер"]), ("Birzhan Sal", ["Биржан сал", "Birzhan Sal"])],
    ),
    "Aktobe Region": (
        ["актюбинск*", "Ақтөбе", "Актобе", "Aktobe", "Aqtobe"],
        [("Aktobe", None, ["Актобе", "Ақтөбе", "Актюбинск", "Aktobe", "Aqtöbe", "Aktöbe"], []),
         ("Khromtau", "Khromtau", ["Хромтау", "Khromtau"], []),
         ("Kandyagash", "Mugalzhar", ["Кандыагаш", "Қандыағаш", "Kandyagash"], []),
         ("Shalkar", "Shalkar", ["Шалкар", "Шалқар", "Shalkar"], []),
         ("Emba", "Mugalzhar", [], ["Эмба", "Ембі", "Emba"]),
         ("Alga", "Alga", [], ["Алга", "Алға", "Alga"])],
        [("Alga", ["алгинск*", "Алға", "Alga"]), ("Aitekebi", ["айтекебийск*", "Әйтеке би", "Aiteke Bi"]),
         ("Baiganin", ["байганинск*", "Байғанин"]), ("Irgiz", ["иргизск*", "Ырғыз", "Irgiz"]),
         ("Kargaly", ["каргалинск*", "Қарғалы"]), ("Martuk", ["мартукск*", "Мәртөк", "Martuk"]),
         ("Mugalzhar", ["мугалжарск*", "Мұғалжар", "Mugalzhar"]), ("Temir", ["темирск*", "Темір", "Temir"]),
         ("Uil", ["уилск*", "Ойыл", "Uil"]), ("Khobda", ["хобдинск*", "Қобда", "Khobda"]),
         ("Khromtau", ["хромтауск*", "Хромтау"]), ("Shalkar", ["шалкарск*", "Шалқар"])],
    ),
    "Atyrau Region": (
        ["атырауск*", "Атырау", "Atyrau"],
        [("Atyrau", None, ["Атырау", "Atyrau", "Гурьев"], []),
         ("Kulsary", "Zhylyoi", ["Кульсары", "Құлсары", "Kulsary", "Qulsary"], [])],
        [("Zhylyoi", ["жылыойск*", "Жылыой", "Zhylyoi", "Zhylyoy"]), ("Inder", ["индерск*", "Индер", "Inder"]),
         ("Isatai", ["исатайск*", "Исатай", "Isatai"]), ("Kyzylkoga", ["кызылкогинск*", "Қызылқоға"]),
         ("Kurmangazy", ["курмангазинск*", "Құрманғазы", "Kurmangazy"]), ("Makat", ["макатск*", "Мақат", "Makat"]),
         ("Makhambet", ["махамбетск*", "Махамбет", "Makhambet"])],
    ),
    "East Kazakhstan Region": (
        ["восточно-казахстанск*", "Шығыс Қазақстан", "East Kazakhstan", "ВКО", "ШҚО"],
        [("Oskemen", None, ["Усть-Каменогорск", "Өскемен", "Оскемен", "Ust-Kamenogorsk", "Oskemen", "Öskemen"], []),
         ("Ridder", None, ["Риддер", "Ridder", "Лениногорск"], []),
         ("Altai", "Altai", ["Зыряновск", "Zyryanovsk"], []),
         ("Shemonaikha", "Shemonaikha", ["Шемонаиха", "Shemonaikha"], []),
         ("Zaisan", "Zaisan", ["Зайсан", "Zaisan"], [])],
        [("Glubokoe", ["глубоковск*", "Глубокое", "Glubokoe"]), ("Zaisan", ["зайсанск*", "Zaisan"]),
         ("Katon-Karagai", ["катон-карагайск*", "Катонқарағай"]), ("Kurchum", ["курчумск*", "Күршім"]),
         ("Ulan", ["уланск*", "Ұлан", "Ulan"]), ("Shemonaikha", ["шемонаихинск*"]),
         ("Tarbagatai", ["тарбагатайск*", "Тарбағатай"]), ("Markakol", ["маркакольск*", "Марқакөл"]),
         ("Altai", ["алтайск*"]), ("Samar", ["самарск*", "Самар"])],
    ),
    "Zhambyl Region": (
        ["жамбылск*", "Жамбыл", "Zhambyl", "Jambyl"],
        [("Taraz", None, ["Тараз", "Taraz", "Джамбул"], []),
         ("Shu", "Shu", [], ["Шу", "Shu"]),
         ("Karatau", "Talas", [], ["Каратау", "Қаратау", "Karatau"]),
         ("Zhanatas", "Sarysu", ["Жанатас", "Zhanatas"], []),
         ("Kordai", "Kordai", ["Кордай", "Қордай", "Kordai", "Korday"], []),
         ("Merke", "Merke", ["Мерке", "Merke"], [])],
        [("Baizak", ["байзакск*", "Байзақ", "Baizak"]), ("Zhualy", ["жуалынск*", "Жуалы", "Zhualy"]),
         ("Kordai", ["кордайск*", "Қордай"]), ("Merke", ["меркенск*", "Меркі"]), ("Moiynkum", ["мойынкумск*", "Мойынқұм"]),
         ("Sarysu", ["сарысуск*", "Сарысу"]), ("Talas", ["таласск*", "Талас"]),
         ("T. Ryskulov", ["Турар Рыскулов", "Тұрар Рысқұлов", "Ryskulov"]), ("Shu", ["шуск*", "Шу", "Shu"])],
    ),
    "West Kazakhstan Region": (
        ["западно-казахстанск*", "Батыс Қазақстан", "West Kazakhstan", "ЗКО", "БҚО"],
        [("Oral", None, ["Уральск", "Орал", "Oral", "Uralsk"], []),
         ("Aksai", "Burli", [], ["Аксай", "Ақсай", "Aksai", "Aksay"]),
         ("Podstepnoye", "Terekti", ["Подстепное", "Podstepnoye", "Федоровка"], [])],
        [("Akzhaik", ["акжаикск*", "Ақжайық", "Akzhaik"]), ("Bokeyorda", ["бокейординск*", "Бөкей орда"]),
         ("Burli", ["бурлинск*", "Бөрлі", "Burli"]), ("Zhangaly", ["жангалинск*", "Жаңақала"]),
         ("Zhanibek", ["жанибекск*", "Жәнібек"]), ("Baiterek", ["зеленовск*", "Бәйтерек"]),
         ("Kaztalov", ["казталовск*", "Казталов", "Қазталов"]), ("Karatobe", ["каратобинск*", "Қаратөбе"]),
         ("Syrym", ["сырымск*", "Сырым"]), ("Taskala", ["таскалинск*", "Тасқала"]),
         ("Terekti", ["теректинск*", "Теректі", "Terekti", "Terekty"]), ("Chingirlau", ["чингирлауск*", "Шыңғырлау"])],
    ),
    "Karaganda Region": (
        ["карагандинск*", "Қарағанды", "Караганда", "Karaganda", "Qaragandy"],
        [("Karaganda", None, ["Караганда", "Қарағанды", "Karaganda", "Qaragandy"], []),
         ("Temirtau", None, ["Темиртау", "Теміртау", "Temirtau"], []),
         ("Balkhash", None, [], ["Балхаш", "Балқаш", "Balkhash"]),
         ("Shakhtinsk", None, ["Шахтинск", "Shakhtinsk"], []),
         ("Saran", None, [], ["Сарань", "Саран", "Saran"]),
         ("Priozersk", None, ["Приозерск", "Priozersk"], [])],
        [("Abai", ["абайск*"]), ("Aktogai", ["актогайск*", "Ақтоғай"]), ("Bukhar-Zhyrau", ["бухар-жырауск*", "Бұқар жырау"]),
         ("Karkaraly", ["каркаралинск*", "Қарқаралы", "Karkaraly"]), ("Nura", ["нуринск*", "Нұра"]),
         ("Osakarovka", ["осакаровск*", "Осакаров"]), ("Shet", ["шетск*", "Шет"])],
    ),
    "Kostanay Region": (
        ["костанайск*", "Қостанай", "Костанай", "Kostanay", "Qostanai"],
        [("Kostanay", None, ["Костанай", "Қостанай", "Kostanay", "Qostanai", "Кустанай"], []),
         ("Rudny", None, ["Рудный", "Рудного", "Рудном", "Рудном", "Rudny", "Rudnyi"], []),
         ("Lisakovsk", None, ["Лисаковск", "Lisakovsk"], []),
         ("Zhitikara", "Zhitikara", ["Житикара", "Zhitikara", "Jitikara"], []),
         ("Arkalyk", None, ["Аркалык", "Арқалық", "Arkalyk"], [])],
        [("Altynsarin", ["алтынсаринск*", "Алтынсарин"]), ("Amangeldy", ["амангельдинск*", "Амангелді"]),
         ("Auliekol", ["аулиекольск*", "Әулиекөл"]), ("Denisovka", ["денисовск*", "Денисов"]),
         ("Zhangeldi", ["джангельдинск*", "Жангелді"]), ("Zhitikara", ["житикаринск*"]),
         ("Kamysty", ["камыстинск*", "Қамысты"]), ("Karabalyk", ["карабалыкск*", "Қарабалық"]),
         ("Karasu", ["карасуск*", "Қарасу"]), ("Kostanay", ["Костанайский район"]),
         ("Mendykara", ["мендыкаринск*", "Меңдіқара"]), ("Nauyrzym", ["наурзумск*", "Наурызым"]),
         ("Sarykol", ["сарыкольск*", "Сарыкөл"]), ("B. Mailin", ["тарановск*", "Беимбет Майлин"]),
         ("Uzunkol", ["узункольск*", "Ұзынкөл"]), ("Fyodorovka", ["федоровск*", "Федоров"])],
    ),
    "Kyzylorda Region": (
        ["кызылординск*", "Қызылорда", "Кызылорда", "Kyzylorda", "Qyzylorda"],
        [("Kyzylorda", None, ["Кызылорда", "Қызылорда", "Kyzylorda", "Qyzylorda"], []),
         ("Baikonur", None, ["Байконур", "Байқоңыр", "Baikonur", "Baikonyr"], []),
         ("Aral", "Aral", ["Аральск", "Aralsk"], ["Арал", "Aral"]),
         ("Kazaly", "Kazaly", ["Казалинск", "Қазалы", "Kazalinsk"], [])],
        [("Aral", ["аральск*", "Арал"]), ("Zhalagash", ["жалагашск*", "Жалағаш"]),
         ("Zhanakorgan", ["жанакорганск*", "Жаңақорған"]), ("Kazaly", ["казалинск*", "Қазалы"]),
         ("Karmakshy", ["кармакшинск*", "Қармақшы"]), ("Syrdarya", ["сырдарьинск*", "Сырдария"]),
         ("Shieli", ["шиелийск*", "Шиелі", "Shieli"])],
    ),
    "Mangystau Region": (
        ["мангистауск*", "мангыстауск*", "Маңғыстау", "Мангистау", "Мангыстау", "Mangystau", "Mangistau"],
        [("Aktau", None, ["Актау", "Ақтау", "Aktau", "Aqtau"], []),
         ("Zhanaozen", None, ["Жанаозен", "Жаңаөзен", "Zhanaozen", "Janaozen"], []),
         ("Beineu", "Beineu", ["Бейнеу", "Beineu"], []),
         ("Fort-Shevchenko", "Tupkaragan", ["Форт-Шевченко", "Fort-Shevchenko"], [])],
        [("Beineu", ["бейнеуск*", "Бейнеу"]), ("Karakiya", ["каракиянск*", "Қарақия"]),
         ("Mangystau", ["мангистауский район", "Маңғыстау ауданы"]), ("Munaily", ["мунайлинск*", "Мұнайлы", "Munaily"]),
         ("Tupkaragan", ["тупкараганск*", "Түпқараған"])],
    ),
    "Pavlodar Region": (
        ["павлодарск*", "Павлодар", "Pavlodar"],
        [("Pavlodar", None, ["Павлодар", "Pavlodar"], []),
         ("Ekibastuz", None, ["Экибастуз", "Екібастұз", "Ekibastuz"], []),
         ("Aksu", None, [], ["Аксу", "Ақсу", "Aksu"])],
        [("Aktogai", ["актогайск*"]), ("Bayanaul", ["баянаульск*", "Баянауыл", "Bayanaul"]),
         ("Zhelezinka", ["железинск*", "Железин"]), ("Irtysh", ["иртышск*", "Ертіс"]),
         ("Tereñkol", ["теренкольск*", "Тереңкөл"]), ("Mai", ["майск*"]),
         ("Pavlodar", ["павлодарский район"]), ("Uspenka", ["успенск*"]), ("Shcherbakty", ["щербактинск*", "Шарбақты"]),
         ("Akkuly", ["аккулинск*", "Аққулы"])],
    ),
    "North Kazakhstan Region": (
        ["северо-казахстанск*", "Солтүстік Қазақстан", "North Kazakhstan", "СКО", "СҚО"],
        [("Petropavl", None, ["Петропавловск", "Петропавл", "Petropavlovsk", "Petropavl"], []),
         ("Bulaevo", "M. Zhumabayev", ["Булаево", "Bulaevo"], []),
         ("Mamlyutka", "Mamlyut", ["Мамлютка", "Mamlyutka"], []),
         ("Sergeevka", "Shal Akyn", ["Сергеевка", "Sergeevka"], []),
         ("Taiynsha", "Taiynsha", ["Тайынша", "Taiynsha"], [])],
        [("Aiyrtau", ["айыртауск*", "Айыртау"]), ("Akzhar", ["акжарск*", "Ақжар"]), ("Akkayin", ["аккайынск*", "Аққайың"]),
         ("Yesil", ["Есильский район", "Есіл ауданы"]), ("M. Zhumabayev", ["Магжана Жумабаева", "Мағжан Жұмабаев"]),
         ("Kyzylzhar", ["кызылжарск*", "Қызылжар"]), ("Mamlyut", ["мамлютск*"]),
         ("G. Musrepov", ["Габита Мусрепова", "Ғабит Мүсірепов"]), ("Taiynsha", ["тайыншинск*"]),
         ("Timiryazev", ["тимирязевск*"]), ("Ualikhanov", ["уалихановск*", "Уәлиханов"]), ("Shal Akyn", ["Шал акына", "Шал ақын"])],
    ),
    "Turkistan Region": (
        ["туркестанск*", "Түркістан", "Туркестан", "Turkistan", "Turkestan"],
        [("Turkistan", None, ["Туркестан", "Түркістан", "Turkistan", "Turkestan"], []),
         ("Kentau", None, ["Кентау", "Kentau"], []),
         ("Arys", None, [], ["Арыс", "Arys"]),
         ("Saryagash", "Saryagash", ["Сарыагаш", "Saryagash"], []),
         ("Zhetisai", "Zhetisai", ["Жетысай", "Жетісай", "Zhetisai"], []),
         ("Lenger", "Tolebi", ["Ленгер", "Lenger"], []),
         ("Shardara", "Shardara", ["Шардара", "Shardara"], [])],
        [("Baidibek", ["Байдибек", "Бәйдібек"]), ("Kazygurt", ["казыгуртск*", "Қазығұрт"]),
         ("Maktaaral", ["мактааральск*", "Мақтаарал"]), ("Ordabasy", ["ордабасинск*", "Ордабасы"]),
         ("Otyrar", ["отырарск*", "Отырар"]), ("Sairam", ["сайрамск*", "Сайрам"]), ("Saryagash", ["сарыагашск*"]),
         ("Sozak", ["созакск*", "Созақ"]), ("Tolebi", ["толебийск*", "Төлеби"]), ("Tulkibas", ["тюлькубасск*", "Түлкібас"]),
         ("Shardara", ["шардаринск*"]), ("Zhetisai", ["жетысайск*"]), ("Keles", ["келесск*", "Келес"]),
         ("Sauran", ["Сауран"])],
    ),
    "Ulytau Region": (
        ["улытауск*", "Ұлытау", "Улытау", "Ulytau"],
        [("Zhezkazgan", None, ["Жезказган", "Жезқазған", "Zhezkazgan", "Jezqazgan"], []),
         ("Satpayev", None, [], ["Сатпаев", "Сәтбаев", "Satpayev"]),
         ("Karazhal", None, ["Каражал", "Қаражал", "Karazhal"], [])],
        [("Ulytau", ["улытауский район", "Ұлытау ауданы"]), ("Zhanaarka", ["жанааркинск*", "Жаңаарқа"])],
    ),
    "Astana City": (
        [],
        [],
        [("Almaty", ["Алматинский район Астаны"]), ("Baikonyr", ["байконырск*", "Байқоңыр ауданы"]),
         ("Yesil", ["есильский район астаны", "Есіл ауданы"]), ("Saryarka", ["сарыаркинск*", "Сарыарқа"]),
         ("Nura", ["Нура", "Нұра"])],
    ),
    "Shymkent City": (
        [],
        [],
        [("Abai", ["Абайский район Шымкента"]), ("Al-Farabi", ["аль-фарабийск*", "Әл-Фараби"]),
         ("Enbekshi", ["енбекшинск*", "Еңбекші"]), ("Karatau", ["Каратауский район", "Қаратау ауданы"]),
         ("Turan", ["Туран", "Тұран"])],
    ),
}
CITIES = {
    "Astana City": ["Астана", "Астане", "Астаны", "Нур-Султан", "Нұр-Сұлтан", "Astana", "Nur-Sultan", "Акмола"],
    "Shymkent City": ["Шымкент", "Чимкент", "Shymkent", "Shimkent"],
}


def _q(values: list[str]) -> str:
    return "[" + ", ".join(f'"{v}"' for v in values) + "]"


def render() -> str:
    """The TOML text."""
    out = ["# Generated by scripts/national_places.py: the regions and cities of republican significance of",
           "# Kazakhstan beyond Almaty Region, Zhetysu Region and Almaty City (those have their own detailed files).",
           "# Keys as in almaty_region.toml. Whether a region is watched is `[places] regions` in config.toml.", ""]
    for region, (names, towns, districts) in REGIONS.items():
        out += ["[[place]]", f'region = "{region}"']
        if region in CITIES:
            out.append(f"names = {_q(CITIES[region])}")
            out.append("confidence = 0.8")
        else:
            out.append(f"region_names = {_q(names)}")
        out.append("")
        for town, district, alone, with_word in towns:
            out += ["[[place]]", f'region = "{region}"']
            if district:
                out.append(f'district = "{district}"')
            out.append(f'town = "{town}"')
            if alone:
                out.append(f"names = {_q(alone)}")
            if with_word:
                out.append(f"town_names = {_q(with_word)}")
            out.append("")
        for district, dnames in districts:
            out += ["[[place]]", f'region = "{region}"', f'district = "{district}"']
            stems = [n for n in dnames if n.endswith("*") or " " in n and n[0].islower()]
            plain = [n for n in dnames if n not in stems]
            if stems:
                out.append(f"names = {_q(stems)}")
            if plain:
                out.append(f"district_names = {_q(plain)}")
            out.append("")
    return "\n".join(out)


if __name__ == "__main__":
    target = Path(__file__).resolve().parent.parent / "monitor/core/places/data/kazakhstan.toml"
    target.write_text(render(), encoding="utf-8")
    print(f"wrote {target}")
