#pragma once
// Environment variables set for one test and put back as they were when it ends, so that the order of
// tests does not change what they see.

#include <QByteArray>
#include <QList>
#include <QPair>
#include <QtGlobal>

namespace tunebench::test {

class ScopedEnvironment
{
public:
    ScopedEnvironment() = default;
    ScopedEnvironment(const ScopedEnvironment&) = delete;
    ScopedEnvironment& operator=(const ScopedEnvironment&) = delete;
    ~ScopedEnvironment()
    {
        // In reverse, so that a variable set twice ends as it was before the first.
        for (auto it = m_saved.crbegin(); it != m_saved.crend(); ++it) {
            if (it->second.isNull())
                qunsetenv(it->first.constData());
            else
                qputenv(it->first.constData(), it->second);
        }
    }

    void set(const char* name, const QByteArray& value)
    {
        remember(name);
        qputenv(name, value);
    }
    void unset(const char* name)
    {
        remember(name);
        qunsetenv(name);
    }

private:
    void remember(const char* name)
    {
        // A null QByteArray marks a variable that was not set at all.
        m_saved.append({QByteArray(name), qEnvironmentVariableIsSet(name) ? qgetenv(name) : QByteArray()});
    }
    QList<QPair<QByteArray, QByteArray>> m_saved;
};

} // namespace tunebench::test
