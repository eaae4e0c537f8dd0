#include "app/cli/CliArgs.h"

#include "core/Error.h"

#include <cmath>

namespace tunebench::cli {

CliArgs::CliArgs(const std::vector<std::string>& words, const std::set<std::string>& flagNames, const std::set<std::string>* known)
{
    bool onlyPositional = false;
    for (size_t i = 0; i < words.size(); ++i) {
        const std::string& word = words[i];
        if (onlyPositional || word.size() < 3 || word.compare(0, 2, "--") != 0) {
            if (word == "--") {
                onlyPositional = true;
                continue;
            }
            m_positional.push_back(word);
            continue;
        }
        std::string name = word.substr(2);
        std::string inlineValue;
        const bool hasInline = name.find('=') != std::string::npos;
        if (hasInline) {
            inlineValue = name.substr(name.find('=') + 1);
            name = name.substr(0, name.find('='));
        }
        if (known && !known->count(name))
            throw Error("unknown option --" + name);
        if (flagNames.count(name)) {
            if (hasInline)
                throw Error("option --" + name + " takes no value");
            m_flags.insert(name);
        } else if (hasInline) {
            m_options[name].push_back(inlineValue);
        } else {
            if (i + 1 >= words.size())
                throw Error("option --" + name + " needs a value");
            m_options[name].push_back(words[++i]);
        }
    }
}

bool CliArgs::flag(const std::string& name) const { return m_flags.count(name) > 0; }

std::optional<std::string> CliArgs::value(const std::string& name) const
{
    auto it = m_options.find(name);
    if (it == m_options.end() || it->second.empty())
        return std::nullopt;
    return it->second.back();
}

std::string CliArgs::value(const std::string& name, const std::string& fallback) const
{
    return value(name).value_or(fallback);
}

std::vector<std::string> CliArgs::values(const std::string& name) const
{
    auto it = m_options.find(name);
    return it == m_options.end() ? std::vector<std::string>{} : it->second;
}

int CliArgs::intValue(const std::string& name, int fallback) const
{
    auto text = value(name);
    if (!text)
        return fallback;
    try {
        size_t used = 0;
        const int parsed = std::stoi(*text, &used);
        if (used == text->size())
            return parsed;
    } catch (const std::exception&) {
    }
    throw Error("option --" + name + " expects an integer, got '" + *text + "'");
}

double CliArgs::doubleValue(const std::string& name, double fallback) const
{
    auto text = value(name);
    if (!text)
        return fallback;
    try {
        size_t used = 0;
        const double parsed = std::stod(*text, &used);
        if (used == text->size() && std::isfinite(parsed))
            return parsed;
    } catch (const std::exception&) {
    }
    throw Error("option --" + name + " expects a finite number, got '" + *text + "'");
}

void CliArgs::requireKnown(const std::set<std::string>& known) const
{
    for (const auto& [name, unused] : m_options)
        if (!known.count(name))
            throw Error("unknown option --" + name);
    for (const auto& name : m_flags)
        if (!known.count(name))
            throw Error("unknown option --" + name);
}

} // namespace tunebench::cli
