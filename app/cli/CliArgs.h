#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace tunebench::cli {

// Command-line arguments of one sub-command: `--name value` options (repeatable), `--flag` switches and
// positional words. A word after `--` is always positional.
class CliArgs
{
public:
    // `flagNames` are the switches that take no value; every other `--name` takes the next word. With
    // `known`, a name outside it is an Error as soon as it is met (so a last `--bogus` is not "needs a value").
    CliArgs(const std::vector<std::string>& words, const std::set<std::string>& flagNames,
            const std::set<std::string>* known = nullptr);

    bool flag(const std::string& name) const;
    std::optional<std::string> value(const std::string& name) const;  // the last one given
    std::string value(const std::string& name, const std::string& fallback) const;
    std::vector<std::string> values(const std::string& name) const;   // all, in order
    int intValue(const std::string& name, int fallback) const;
    double doubleValue(const std::string& name, double fallback) const;  // finite only: nan and inf are Errors
    const std::vector<std::string>& positional() const { return m_positional; }

    // Throws tunebench::Error naming the first option (flags included) that is not in `known`.
    void requireKnown(const std::set<std::string>& known) const;

private:
    std::map<std::string, std::vector<std::string>> m_options;
    std::set<std::string> m_flags;
    std::vector<std::string> m_positional;
};

} // namespace tunebench::cli
