//! The synthetic monitoring-site table: West-Coast-ish coordinates, names, agencies, AQS ids
//! and the fixed set of parameters each site reports.

use std::collections::HashSet;

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::values::{self, Param};

/// A monitoring agency and the area its sites are scattered over.
struct Agency {
    /// Agency name as written in the CSV.
    name: &'static str,
    /// State FIPS code, the first two digits of a 9-digit AQS id.
    state: u32,
    /// Centre of the agency's area (degrees north).
    lat: f64,
    /// Centre of the agency's area (degrees east).
    lon: f64,
    /// Standard deviation of site positions around the centre, in degrees.
    spread: f64,
    /// Relative share of sites run by this agency.
    weight: u32,
}

/// Agencies with their home areas; weights roughly follow how many sites such agencies run.
/// `AIRSIS` is special: its sites are temporary smoke monitors with `MMAIR` ids and
/// upper-case names, like the real feed's.
#[rustfmt::skip]
const AGENCIES: &[Agency] = &[
    agency("California Air Resources Board", 6, 37.0, -120.0, 2.0, 18),
    agency("South Coast AQMD", 6, 34.0, -117.8, 0.45, 8),
    agency("San Francisco Bay Area AQMD", 6, 37.75, -122.2, 0.35, 7),
    agency("San Joaquin Valley APCD", 6, 36.6, -119.7, 0.8, 6),
    agency("Sacramento Metropolitan AQMD", 6, 38.55, -121.4, 0.3, 3),
    agency("San Diego APCD", 6, 32.9, -117.0, 0.3, 3),
    agency("North Coast Unified Air Quality Management District", 6, 40.8, -123.9, 0.5, 2),
    agency("Mendocino County AQMD", 6, 39.3, -123.4, 0.3, 1),
    agency("Placer County APCD", 6, 38.9, -121.1, 0.25, 1),
    agency("Oregon Dept. of Environmental Quality", 41, 44.4, -121.8, 1.2, 7),
    agency("Lane Regional Air Protection Agency", 41, 44.0, -123.0, 0.3, 2),
    agency("Washington State Department of Ecology", 53, 47.3, -120.5, 1.2, 7),
    agency("Puget Sound Clean Air Agency", 53, 47.5, -122.3, 0.3, 3),
    agency("Nevada Division of Environmental Protection", 32, 39.3, -117.5, 1.1, 2),
    agency("Clark County Department of Air Quality", 32, 36.15, -115.15, 0.2, 3),
    agency("Northern Nevada Public Health", 32, 39.5, -119.8, 0.15, 2),
    agency("Arizona Department of Environmental Quality", 4, 33.6, -111.5, 1.0, 4),
    agency("Maricopa County Air Quality Department", 4, 33.45, -112.05, 0.25, 4),
    agency("Pima County Department of Environmental Quality", 4, 32.25, -110.95, 0.2, 2),
    agency("Idaho Department of Environmental Quality", 16, 44.0, -115.5, 1.1, 3),
    agency("Utah Department of Environmental Quality", 49, 40.6, -111.9, 0.6, 5),
    agency("Ute Tribe", 49, 40.1, -109.7, 0.3, 1),
    agency("Montana Department of Environmental Quality", 30, 46.7, -111.0, 1.2, 3),
    agency("Wyoming Department of Environmental Quality", 56, 42.8, -107.5, 0.9, 3),
    agency("Colorado Department of Public Health and Environment", 8, 39.6, -105.3, 0.5, 4),
    agency("New Mexico Environment Department", 35, 34.8, -106.5, 0.8, 3),
    agency("AIRSIS", 6, 40.0, -121.5, 2.5, 4),
];

/// Builds an [`Agency`] in a table row (keeps the table one line per agency).
const fn agency(
    name: &'static str,
    state: u32,
    lat: f64,
    lon: f64,
    spread: f64,
    weight: u32,
) -> Agency {
    Agency {
        name,
        state,
        lat,
        lon,
        spread,
        weight,
    }
}

/// Place names per state FIPS code to build site names from (real towns, so a site's name
/// fits its agency's state).
#[rustfmt::skip]
const TOWNS: &[(u32, &[&str])] = &[
    (6, &["Crescent City", "Eureka", "Ukiah", "Redding", "Chico", "Yuba City", "Auburn",
        "Roseville", "Sacramento", "Davis", "Vallejo", "Napa", "Sebastopol", "San Rafael",
        "Oakland", "Berkeley", "San Jose", "Livermore", "Gilroy", "Salinas", "Modesto", "Merced",
        "Fresno", "Visalia", "Hanford", "Bakersfield", "Lancaster", "Pasadena", "Glendora",
        "Riverside", "Banning", "Palm Springs", "Indio", "El Centro", "Escondido", "Chula Vista"]),
    (41, &["Portland", "Salem", "Eugene", "Bend", "Medford", "Klamath Falls", "Roseburg",
        "Florence", "Pendleton", "Hillsboro", "Oakridge", "Chiloquin"]),
    (53, &["Seattle", "Tacoma", "Bellingham", "Olympia", "Vancouver", "Spokane", "Yakima",
        "Wenatchee", "Marysville", "Kennewick"]),
    (32, &["Reno", "Sparks", "Carson City", "Las Vegas", "Henderson", "Elko", "Fallon"]),
    (4, &["Phoenix", "Mesa", "Tucson", "Yuma", "Flagstaff", "Prescott", "Casa Grande"]),
    (16, &["Boise", "Nampa", "Twin Falls", "Pocatello", "Idaho Falls", "Salmon"]),
    (49, &["Salt Lake City", "Ogden", "Provo", "Vernal", "Roosevelt", "Logan"]),
    (30, &["Missoula", "Helena", "Bozeman", "Butte", "Billings", "Great Falls"]),
    (56, &["Cheyenne", "Casper", "Rock Springs", "Pinedale", "Gillette", "Moxa Arch"]),
    (8, &["Denver", "Boulder", "Fort Collins", "Greeley", "Rangely", "Grand Junction"]),
    (35, &["Albuquerque", "Santa Fe", "Las Cruces", "Farmington", "Carlsbad"]),
];

/// Second parts of site names ("Fresno - Garland", "Bend, Pump Station").
#[rustfmt::skip]
const SUFFIXES: &[&str] = &[
    "Near Road", "Airport", "High School", "Fire Station", "Main St", "Library", "Park",
    "Garland", "Pump Station", "Water Plant", "District Office", "Elementary", "North",
    "South", "East", "West", "Downtown", "Hospital", "Fairgrounds", "Community Center",
];

/// Every this-many-th site gets a name with a comma inside ("Rangely, CO"); the real feed has
/// 12 such names in 1,417 (~1 %). Index-based so even a 20-site table has one.
const COMMA_EVERY: usize = 40;
/// Which index within each `COMMA_EVERY` block gets the comma name (small so tiny tables have it).
const COMMA_OFFSET: usize = 7;
/// Share of regular sites whose short AQS id is the 12-character full id (real: ~5 % of rows).
const LONG_ID_SHARE: f64 = 0.05;
/// Latitude bounds of the West-Coast-ish box every site falls in.
const LAT_RANGE: (f64, f64) = (32.0, 49.0);
/// Longitude bounds of the West-Coast-ish box every site falls in.
const LON_RANGE: (f64, f64) = (-125.0, -104.0);
/// Redraws of a coordinate that fell outside the box before clamping it (clamping alone
/// would pile sites up on the border).
const COORDINATE_TRIES: usize = 8;

/// Parameter sets (bit `1 << Param::index`) with how many real sites report exactly that set;
/// drawing from this table reproduces the real per-parameter site counts.
#[rustfmt::skip]
const COMBOS: &[(u8, u32)] = &[
    (O3, 471), (P25, 289), (O3 | P25, 196), (P10, 62), (O3 | P10 | P25, 53), (P10 | P25, 32),
    (SO2, 28), (NO2 | O3, 24), (NO2 | O3 | P25, 24), (O3 | P10, 22), (CO | NO2 | P25, 16),
    (CO | NO2 | O3 | P25, 15), (O3 | P25 | SO2, 15), (CO | NO2 | O3 | P25 | SO2, 14),
    (ALL, 13), (CO | NO2 | O3, 10), (CO | NO2 | O3 | P10 | P25, 9), (NO2 | O3 | P10 | P25, 8),
    (NO2 | O3 | P10, 7), (CO | O3 | P10 | P25 | SO2, 7), (NO2, 7), (ALL & !CO, 7), (O3 | SO2, 7),
    (CO | NO2 | O3 | SO2, 6), (P25 | SO2, 6), (P10 | P25 | SO2, 5), (NO2 | P25, 5),
    (NO2 | O3 | SO2, 5), (NO2 | SO2, 5), (CO | O3 | P10 | P25, 4), (CO | NO2 | O3 | P10, 4),
    (CO | NO2 | P10 | P25, 4), (CO | O3 | P25 | SO2, 4), (CO | O3 | SO2, 4),
    (O3 | P10 | P25 | SO2, 4), (CO | NO2, 3), (NO2 | O3 | P10 | SO2, 3), (CO | NO2 | SO2, 3),
];
const CO: u8 = 1 << Param::Co as u8;
const NO2: u8 = 1 << Param::No2 as u8;
const O3: u8 = 1 << Param::Ozone as u8;
const P10: u8 = 1 << Param::Pm10 as u8;
const P25: u8 = 1 << Param::Pm25 as u8;
const SO2: u8 = 1 << Param::So2 as u8;
const ALL: u8 = CO | NO2 | O3 | P10 | P25 | SO2;

/// One monitoring site, with its CSV text pre-rendered so rows are cheap to write.
pub(crate) struct Site {
    /// Position in the table; keys the per-site-per-day hashes.
    pub(crate) id: u64,
    /// Index into the agency table; keys the regional smoke hash.
    pub(crate) agency: u64,
    /// `"lat","lon",` — the row's first two fields with their separators.
    pub(crate) prefix: String,
    /// `"name","agency","aqs","full"` plus the newline — the row's last four fields.
    pub(crate) suffix: String,
    /// Parameters reported, in row order.
    pub(crate) params: Vec<Param>,
    /// Per-parameter site multiplier on the typical concentration (indexed by `Param::index`).
    pub(crate) levels: [f64; Param::COUNT],
    /// How strongly wildfire smoke reaches this site (multiplies the day's smoke chance).
    pub(crate) smoke_exposure: f64,
}

/// Builds `count` sites from `rng`, grouped by agency (the order rows appear in files).
pub(crate) fn build(rng: &mut ChaCha8Rng, count: usize) -> Vec<Site> {
    let mut used_ids = HashSet::new();
    let mut drafts: Vec<(usize, Site)> = (0..count)
        .map(|index| {
            let agency = weighted(rng, AGENCIES.iter().map(|a| a.weight));
            (agency, draft(rng, index, agency, &mut used_ids))
        })
        .collect();
    drafts.sort_by_key(|(agency, _)| *agency);
    drafts
        .into_iter()
        .enumerate()
        .map(|(position, (_, mut site))| {
            site.id = position as u64;
            site
        })
        .collect()
}

/// Draws one site of agency `agency`; `index` is its draw order (drives the comma names).
fn draft(rng: &mut ChaCha8Rng, index: usize, agency: usize, used: &mut HashSet<String>) -> Site {
    let home = &AGENCIES[agency];
    let lat = coordinate(rng, home.lat, home.spread, LAT_RANGE);
    let lon = coordinate(rng, home.lon, home.spread * 1.2, LON_RANGE);
    let (aqs, full) = aqs_ids(rng, home, used);
    let name = site_name(rng, index, home);
    let combo = COMBOS[weighted(rng, COMBOS.iter().map(|c| c.1))].0;
    let params = Param::ALL
        .into_iter()
        .filter(|p| combo & (1 << p.index()) != 0)
        .collect();
    let mut levels = [1.0; Param::COUNT];
    for param in Param::ALL {
        levels[param.index()] = values::site_level(rng, param);
    }
    Site {
        id: index as u64,
        agency: agency as u64,
        prefix: format!("{},{},", quoted(&lat), quoted(&lon)),
        suffix: format!(
            "{},{},{},{}\n",
            quoted(&name),
            quoted(home.name),
            quoted(&aqs),
            quoted(&full)
        ),
        params,
        levels,
        smoke_exposure: rng.random_range(0.3..1.7),
    }
}

/// A coordinate near `centre` inside `range` (redrawn a few times, then clamped), printed with
/// 4–6 decimals like the feed.
fn coordinate(rng: &mut ChaCha8Rng, centre: f64, spread: f64, range: (f64, f64)) -> String {
    let mut value = centre + spread * values::normal(rng);
    for _ in 0..COORDINATE_TRIES {
        if (range.0..=range.1).contains(&value) {
            break;
        }
        value = centre + spread * values::normal(rng);
    }
    let value = value.clamp(range.0, range.1);
    let decimals = rng.random_range(4..=6);
    format!("{value:.decimals$}")
}

/// A unique (short, full) AQS id pair: 9 digits and `840` + those digits, or the 12-character
/// form in both fields (as the real feed does for ~5 % of rows); temporary monitors use `MMAIR`.
fn aqs_ids(rng: &mut ChaCha8Rng, home: &Agency, used: &mut HashSet<String>) -> (String, String) {
    loop {
        let short = if home.name == "AIRSIS" {
            format!("MMAIR{:04}", rng.random_range(1000..10_000))
        } else {
            let county = 2 * rng.random_range(0..60) + 1;
            format!(
                "{:02}{county:03}{:04}",
                home.state,
                rng.random_range(1..10_000)
            )
        };
        let full = format!("840{short}");
        if used.insert(full.clone()) {
            let long = home.name != "AIRSIS" && rng.random::<f64>() < LONG_ID_SHARE;
            return (if long { full.clone() } else { short }, full);
        }
    }
}

/// A site name: a town, optionally with a suffix joined by " - ", a space or (rarely) ", ".
fn site_name(rng: &mut ChaCha8Rng, index: usize, home: &Agency) -> String {
    let towns = TOWNS
        .iter()
        .find(|(state, _)| *state == home.state)
        .map_or(TOWNS[0].1, |(_, towns)| towns);
    let town = towns[rng.random_range(0..towns.len())];
    let suffix = SUFFIXES[rng.random_range(0..SUFFIXES.len())];
    if index % COMMA_EVERY == COMMA_OFFSET {
        return format!("{town}, {suffix}");
    }
    if home.name == "AIRSIS" {
        return format!("{} EBAM", town.to_uppercase());
    }
    match rng.random_range(0..20) {
        0..=10 => town.to_string(),
        11..=16 => format!("{town} - {suffix}"),
        _ => format!("{town} {suffix}"),
    }
}

/// Index drawn with probability proportional to its weight.
fn weighted(rng: &mut ChaCha8Rng, weights: impl Iterator<Item = u32> + Clone) -> usize {
    let total: u32 = weights.clone().sum();
    let mut pick = rng.random_range(0..total);
    for (index, weight) in weights.enumerate() {
        if pick < weight {
            return index;
        }
        pick -= weight;
    }
    0
}

/// `text` as one CSV field: wrapped in double quotes, inner quotes doubled.
fn quoted(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn table(count: usize) -> Vec<Site> {
        build(&mut ChaCha8Rng::seed_from_u64(7), count)
    }

    fn fields(site: &Site) -> Vec<String> {
        let line = format!("{}{}", site.prefix, site.suffix);
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(line.as_bytes());
        let record = reader
            .records()
            .next()
            .expect("one record")
            .expect("valid csv");
        record.iter().map(str::to_string).collect()
    }

    #[test]
    fn sites_are_in_the_box_with_unique_ids_and_some_commas() {
        let sites = table(1417);
        let mut ids = HashSet::new();
        let mut commas = 0;
        for site in &sites {
            let f = fields(site);
            assert_eq!(f.len(), 6);
            let (lat, lon): (f64, f64) = (f[0].parse().expect("lat"), f[1].parse().expect("lon"));
            assert!((32.0..=49.0).contains(&lat) && (-125.0..=-104.0).contains(&lon));
            let decimals = f[0].split('.').nth(1).map_or(0, str::len);
            assert!((4..=6).contains(&decimals), "{}", f[0]);
            assert!(f[4].len() == 9 || f[4].len() == 12, "{}", f[4]);
            assert_eq!(f[5].len(), 12);
            assert!(ids.insert(f[5].clone()), "duplicate id {}", f[5]);
            commas += usize::from(f[2].contains(','));
            assert!(!site.params.is_empty());
        }
        assert!(commas >= 20, "{commas}");
        let agencies: HashSet<u64> = sites.iter().map(|s| s.agency).collect();
        assert!(agencies.len() > 20);
    }

    #[test]
    fn parameter_shares_follow_the_real_site_counts() {
        let sites = table(1417);
        let count = |p: Param| sites.iter().filter(|s| s.params.contains(&p)).count();
        // Real: OZONE 944, PM2.5 736, PM10 251, NO2 198, SO2 145, CO 125.
        assert!((850..1040).contains(&count(Param::Ozone)));
        assert!((650..820).contains(&count(Param::Pm25)));
        assert!((90..200).contains(&count(Param::Co)));
    }

    #[test]
    fn tiny_tables_still_have_a_comma_name() {
        assert!(table(20).iter().any(|s| fields(s)[2].contains(',')));
    }
}
