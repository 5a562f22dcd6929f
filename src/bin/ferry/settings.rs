//! `ferry settings …`: the preferences (the desktop's Settings screen) and
//! the log files.

use super::*;

/// `30m`, `1h`, `90s`, `2h30m` or plain minutes (`45`).
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if let Ok(minutes) = text.parse::<u64>() {
        return Ok(Duration::from_secs(minutes * 60));
    }
    let mut total = 0u64;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let n: u64 = number
            .parse()
            .map_err(|_| format!("“{text}” isn't a duration: say 30m, 1h or 2h30m"))?;
        number.clear();
        total += match c {
            'h' => n * 3600,
            'm' => n * 60,
            's' => n,
            _ => return Err(format!("“{text}” isn't a duration: say 30m, 1h or 2h30m")),
        };
    }
    if !number.is_empty() || total == 0 {
        return Err(format!("“{text}” isn't a duration: say 30m, 1h or 2h30m"));
    }
    Ok(Duration::from_secs(total))
}

/// `ferry settings show [--json]`.
pub(crate) fn show(app: &Ferry, json: bool) -> anyhow::Result<ExitCode> {
    let preferences = app.settings()?.preferences;
    if json {
        println!("{}", serde_json::to_string(&preferences)?);
        return Ok(ExitCode::SUCCESS);
    }
    let table = toml::Value::try_from(&preferences)?;
    if let Some(table) = table.as_table() {
        for (name, value) in table {
            println!("{name} = {value}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `ferry settings set NAME VALUE`: the same validation (and the same
/// effect on a running Ferry) as the desktop's Settings screen.
pub(crate) fn set(app: &Ferry, name: &str, value: &str) -> anyhow::Result<ExitCode> {
    if name == "start_at_login" {
        eprintln!(
            "Starting at login is set in the Ferry app (Settings): the app registers itself."
        );
        return Ok(ExitCode::FAILURE);
    }
    let preferences = app.settings()?.preferences;
    let mut table = toml::Value::try_from(&preferences)?;
    let Some(current) = table.get(name).cloned() else {
        let names: Vec<String> = table
            .as_table()
            .map(|t| t.keys().cloned().collect())
            .unwrap_or_default();
        eprintln!(
            "There is no preference called {name}. The preferences: {}",
            names.join(", ")
        );
        return Ok(ExitCode::FAILURE);
    };
    let new = match current {
        toml::Value::Boolean(_) => value.parse::<bool>().map(toml::Value::Boolean).ok(),
        toml::Value::Integer(_) => value.parse::<i64>().map(toml::Value::Integer).ok(),
        _ => Some(toml::Value::String(value.to_string())),
    };
    let changed = new.and_then(|new| {
        table.as_table_mut()?.insert(name.to_string(), new);
        table.clone().try_into::<ferry::config::Preferences>().ok()
    });
    let Some(changed) = changed else {
        eprintln!("“{value}” isn't a value {name} can take (it is now {current}).");
        return Ok(ExitCode::FAILURE);
    };
    let saved = app.set_preferences(changed)?;
    let shown = toml::Value::try_from(&saved)?;
    println!(
        "{name} = {}",
        shown.get(name).map(|v| v.to_string()).unwrap_or_default()
    );
    Ok(ExitCode::SUCCESS)
}

/// `ferry settings logs`: opens the log folder and prints where it is.
pub(crate) fn logs(app: &Ferry) -> anyhow::Result<ExitCode> {
    println!("{}", app.dirs().logs.display());
    if let Err(e) = app.open_logs() {
        eprintln!("{e}");
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_people_type() {
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("2h30m"), Ok(Duration::from_secs(9000)));
        assert_eq!(parse_duration("45"), Ok(Duration::from_secs(2700)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("1x").is_err());
        assert!(parse_duration("5h3").is_err());
    }
}
