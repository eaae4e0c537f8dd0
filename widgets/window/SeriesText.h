#pragma once
// Text helpers of the panels that run a series of runs (continual learning, domain adaptation).

#include <QList>
#include <QString>
#include <QStringList>

namespace tunebench {

// A fraction as a percentage with two decimals: 0.5341 -> "53.41".
inline QString percentText(double fraction)
{
    return QString::number(100.0 * fraction, 'f', 2);
}

// Seconds as m:ss.
inline QString formatEta(double seconds)
{
    const auto total = static_cast<long long>(seconds + 0.5);
    return QString("%1:%2").arg(total / 60).arg(total % 60, 2, 10, QChar('0'));
}

// "1, 2,3" -> {1, 2, 3}; the first word that is not a whole number goes to `bad` (and the list is cut there).
inline QList<int> parseSeedList(const QString& text, QString* bad)
{
    QList<int> seeds;
    for (const QString& word : text.split(',', Qt::SkipEmptyParts)) {
        bool ok = false;
        const int seed = word.trimmed().toInt(&ok);
        if (!ok) {
            *bad = word.trimmed();
            return seeds;
        }
        seeds << seed;
    }
    return seeds;
}

} // namespace tunebench
