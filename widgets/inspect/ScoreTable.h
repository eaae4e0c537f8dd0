#pragma once
// The two-column table of classes and probabilities (a bar each) that "Try it" and the Mistakes view show a
// top 5 in.

#include "core/experiment/ClassScore.h"

#include <vector>

class QString;
class QTableWidget;
class QWidget;

namespace tunebench {

// A probability as the inspection views show it: 0.8123 -> "81.2 %".
QString probabilityText(double probability);

// Read-only, no selection; the caller names its columns (they are translated with the caller's context).
QTableWidget* makeScoreTable(QWidget* parent, const char* objectName);
// One row per score, best first: the class (its exact probability under Qt::UserRole, for tests) and a bar.
void fillScoreTable(QTableWidget* table, const std::vector<ClassScore>& scores);

} // namespace tunebench
