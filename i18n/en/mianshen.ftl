# The message catalogue of mianshen, in English (the default language).
#
# Every text the engine and its command line show to people has an id here and the
# same id, with the same arguments, in ../zh/mianshen.ftl (tests/messages.rs checks
# both). Diagnostic messages are named after their code: `<code>--<what>`.
# A literal brace is written {"{"} and {"}"}; leading spaces as {"  "}.

## The frame of a rendered diagnostic.

diagnostic--error = error
diagnostic--warning = warning
diagnostic--label = { $severity }[{ $code }]: { $message }
diagnostic--help = {"  "}= help: { $hint }

## Shared pieces.

hint--did-you-mean = did you mean `{ $name }`?
kind--policy = policy
kind--function = function
kind--parameter = parameter
kind--scale = scale
kind--bundle = bundle
ty--enum = enum { $name }
ty--list = list<{ $item }>
ty--record = record `{ $path }`
ty--subject-record = the subject's record

## What a condition or value is, in type errors.

what--function-result = the function's result
what--where-filter = a `where` filter
what--clause = a clause
what--amount-when = an amount's `when`
what--member-condition = a member's condition
what--clause-value = a clause's value
what--field-when = a field's `when`
what--material-held-when = a material's `held when`
what--operand-minus = the operand of `-`
what--operand-not = the operand of `not`
what--if-condition = the condition of `if`
what--and-or-operand = each operand of `and`/`or`
what--cases-condition = a `cases` condition
what--scale-date = the date a scale is read at
what--quantifier-condition = the condition of a quantifier
what--parameter-date = the date a parameter is read at
what--argument = this argument
what--if-branches = both branches of `if`
what--match-arms = every arm of `match`
what--match-pattern = a pattern and the matched value
what--match-range = a range and the matched value
what--cases-values = every value of `cases`
what--set-members = a value and the members of its set
what--range = a value and its range
what--list-items = a value and the items of the list

## Diagnostics: declarations.

unknown-type = unknown type `{ $name }`
unknown-type--hint = use bool, int, decimal, string, date, list<T> or an enum of the schema
duplicate-id--global = { $what } `{ $name }` is defined more than once
duplicate-id--global-hint = { $what } names are global across the rule set: rename or remove one of them
duplicate-id--dated-name = { $what } `{ $name }` has the name of a { $other }
duplicate-id--dated-name-hint = parameters and scales share one set of names: rename one of them
type-mismatch--parameter-value = this value does not fit the parameter's type { $ty }
type-mismatch--parameter-value-hint = write a { $ty } literal
overlapping-steps = { $what } `{ $name }` has two steps in force on { $from }
overlapping-steps--hint = give each step an end date (`to`) before the next step starts
empty-scale = this step of scale `{ $name }` has no brackets
empty-scale--hint = write `THRESHOLD → VALUE` pairs after the colon (`0 → 0.03, 36000 → 0.10`), or `absent` when the scale has no value from this date on
type-mismatch--bracket = a bracket of scale `{ $name }` must be two numbers
type-mismatch--bracket-hint = write `THRESHOLD → VALUE` with whole or decimal numbers (`6000 → 0.06`; a negative number as `-3`)
unordered-thresholds = the thresholds of scale `{ $name }` must ascend, and { $threshold } is not above the threshold before it ({ $lower })
unordered-thresholds--hint = write the brackets from the lowest threshold to the highest, each threshold once
duplicate-id--function-parameter = parameter `{ $name }` is given twice
duplicate-id--function-parameter-hint = rename one of them
duplicate-id--definition = `{ $name }` is defined more than once here
duplicate-id--definition-hint = rename one of the definitions
cycle--definition = `{ $name }` is defined in terms of itself
cycle--definition-hint = definitions must not refer to themselves, directly or through others
missing-entry--subject = { $what } `{ $name }` does not say its subject
missing-entry--subject-hint = add `subject person` (or another subject kind of the schema)
unknown-subject = unknown subject kind `{ $name }`
unknown-subject--hint = the schema declares: { $names }
missing-entry--effective = policy `{ $name }` has no effective period
missing-entry--effective-hint = add `effective 2025-01-01 to 2025-12-31` or `effective from 2016-01-01`; clause C0 is read from it

## Diagnostics: policies.

unknown-mode = unknown mode `{ $name }`
unknown-mode--hint = use no_application (免申即享), push_and_confirm (政策找人) or apply
missing-entry--mode = policy `{ $name }` does not say its mode
missing-entry--mode-hint = add `mode no_application`, `mode push_and_confirm` or `mode apply`
type-mismatch--for-each = `for each` needs a list, and this is { $ty }
type-mismatch--for-each-hint = name a list of the record, e.g. enterprise.hires
reserved-clause = C0 is the policy's effective period and is not written as a clause
reserved-clause--hint = give the period with `effective ...`; number the other clauses from C1
duplicate-id--clause = clause { $name } is defined more than once in this policy
duplicate-id--clause-hint = number each clause once, as in the policy text
type-mismatch--amount = an amount is a number, and this is { $ty }
type-mismatch--amount-hint = write the amount as a decimal expression
unknown-period = unknown amount period `{ $name }`
unknown-period--hint = use one of { $periods }
amount-guard--without-when = an amount rule without `when` must be the last one
amount-guard--without-when-hint = add `when <condition>` to this rule, or `otherwise` to the last one
amount-guard--otherwise = `otherwise` belongs to the last amount rule
amount-guard--otherwise-hint = move this rule to the end
total-without-items = `total` adds up per-item amounts, and this policy has no `for each`
total-without-items--hint = remove `total`, or evaluate per item with `for each ...`
unknown-extra = not every amount rule states `{ $name }`
unknown-extra--hint = sum `value`, or state this extra in every amount rule
parameter-gap = { $what } `{ $name }` has no value on { $gap }, inside the effective period of `{ $policy }`
parameter-gap--hint = add a step to `{ $name }` that covers { $gap }, shorten the period, or write `accept gap in { $name } "why"` in the policy
parameter-abolished--inside = { $what } `{ $name }` is declared absent from { $day }, inside the effective period of `{ $policy }`: a decision on those days is an evaluation error
parameter-abolished--before = { $what } `{ $name }` is declared absent from { $day }, before the effective period of `{ $policy }` begins: a decision on those days is an evaluation error
parameter-abolished--accept = or write `accept gap in { $name } "why"` in the policy when that is intended
parameter-abolished--to = {" "}(`to { $day }`)
parameter-abolished--end-hint = end the policy's period before { $day }{ $to }, { $accept }
parameter-abolished--start-hint = start the policy's period after { $after }, when the value is in force again, { $accept }
parameter-abolished--read-at-hint = a policy that reads `{ $name }` on `ref` must end before { $day }; read it at a date of its own (`{ $at }`), { $accept }
duplicate-id--member = member `{ $name }` is listed twice
duplicate-id--member-hint = list each member once

## Diagnostics: bundles, properties and references.

subject-mismatch--bundle = policy `{ $name }` is about another subject kind than the bundle
subject-mismatch--bundle-hint = a bundle's policies are about the bundle's subject
unknown-clause = policy `{ $policy }` has no clause { $clause }
unknown-clause--hint = its clauses are { $clauses }
duplicate-id--form-field = form field `{ $name }` is listed twice
duplicate-id--form-field-hint = list each field once
unknown-member--material = no member `{ $name }` in this bundle
unknown-member--material-hint = name a member of this bundle
type-mismatch--amount-bound = an amount is bounded by a number
type-mismatch--amount-bound-hint = write e.g. `amount <= 2000.00`
no-amount = policy `{ $name }` has no amount to bound
no-amount--hint = remove the property, or give the policy an `amount`
unknown-field--property-path = no field `{ $name }` on this path
unknown-field--property-path-hint = name a field path of the subject's record
type-mismatch--monotone-path = `{ $path }` does not lead to a number or a date
type-mismatch--monotone-path-hint = a monotone property varies a number or a date; mark lists with [] (members[].income)
unknown-policy = unknown policy `{ $name }`
unknown-policy--hint = name a policy defined in this rule set
unknown-parameter = unknown parameter `{ $name }`
unknown-parameter--hint = name a parameter or a scale defined in this rule set
cycle--function = function `{ $name }` calls itself
cycle--function-hint = the language has no recursion: write the computation without the call
cycle--policy = policy `{ $name }` depends on its own decision: { $path } (through `eligible(...)` or `amount(...)`)
cycle--policy-hint = break the circle: one of the policies must decide without the other
subject-mismatch--reference = policy `{ $name }` is about another subject kind
subject-mismatch--reference-hint = a policy can only refer to policies about the same subject

## Diagnostics: expressions.

type-mismatch--expected = { $what } must be { $want }, and this is { $got }
type-mismatch--expected-condition-hint = write a condition: a comparison, `in`, `and`/`or`, or a true/false field
type-mismatch--expected-hint = change the expression so that it gives { $want }
unknown-field = { $record } has no field `{ $name }`
unknown-field--hint = its fields are: { $fields }
type-mismatch--field-of-list = `.{ $name }` is read from a list, not from one record
type-mismatch--field-of-list-hint = use a quantifier over the list: any x in LIST: x.field, sum x in LIST: x.field, the x in LIST where ...
type-mismatch--field-of-value = `.{ $name }` is read from { $ty }, which has no fields
type-mismatch--field-of-value-hint = only records have fields
unknown-member--available = no earlier member `{ $name }` in this bundle
unknown-member--available-first-hint = `available(...)` names an earlier member of the same bundle
unknown-member--available-hint = name a member declared above this one in the bundle
item-choice--not-per-item = policy `{ $name }` is decided once per subject, not per item
item-choice--not-per-item-hint = remove `for …`: `{ $name }` has no `for each` to choose an item of
item-choice--type = policy `{ $name }` decides items of type { $want }, and this is { $got }
item-choice--type-hint = name one item of the policy's `for each` list, e.g. a definition `let newborn = the c in person.children where …`
type-mismatch--unordered = { $ty } values have no order
type-mismatch--unordered-hint = compare numbers or dates with <, <=, >, >=; other values with == or !=
type-mismatch--compare-list = lists and records cannot be compared
type-mismatch--compare-list-hint = compare one of their fields, or use a quantifier
type-mismatch--compare = cannot compare { $left } with { $right }
type-mismatch--compare-hint = both sides must have the same type (int and decimal mix freely)
type-mismatch--join = { $what } must have the same type: { $left } and { $right }
type-mismatch--join-hint = make the values the same type
unknown-enum-value = `{ $name }` is not a value of { $enum }
unknown-enum-value--hint = the values of { $enum } are: { $values }
unknown-name = unknown name `{ $name }`
unknown-name--function-hint = a function sees only its parameters, its own definitions and the rule set's parameters
unknown-name--hint = a name is a `let` definition, a field of the record, a parameter, or an enum value compared with an enum field
type-mismatch--scale-as-value = `{ $name }` is a scale, not a value
type-mismatch--scale-as-value-hint = apply it to an amount: `marginal({ $name }, x{ $at })` taxes each part of x at its bracket's value, `bracket({ $name }, x{ $at })` gives the value of the bracket x reaches
arity--scale = `{ $name }` takes a scale, an amount and optionally a date, and { $given } argument(s) are given
arity--scale-hint = write `{ $name }(SCALE, amount)`, or `{ $name }(SCALE, amount, date)` for the scale in force on another date
type-mismatch--scale-argument = the first argument of `{ $name }` must name a scale
type-mismatch--scale-argument-hint = write the scale's name: `{ $name }(SSC, amount)`
type-mismatch--scale-amount = the amount a scale is applied to must be a number, and this is { $ty }
type-mismatch--scale-amount-hint = give `{ $name }` a whole or decimal number (an income, a contribution base)
type-mismatch--parameter-as-scale = `{ $name }` is a parameter, not a scale
type-mismatch--parameter-as-scale-hint = `{ $op }` reads a scale (`scale NAME "label" {"{"} from DATE: THRESHOLD → VALUE, ... {"}"}`); a parameter is read by its name
unknown-scale = unknown scale `{ $name }`
unknown-scale--hint = name a scale defined in this rule set (`scale NAME "label" {"{"} ... {"}"}`)
duration-literal = a duration is written where it is used
duration-literal--hint = write the duration itself here (`d + 12 months`), or use add_months(d, n) with a number
type-mismatch--arithmetic = arithmetic needs numbers, and this combines { $left } and { $right }
type-mismatch--arithmetic-hint = add or subtract durations to dates (`d + 12 months`); use month_diff(a, b) or age(b, d) for date differences
type-mismatch--range = ranges are for numbers and dates
type-mismatch--range-hint = use a set `{"{"}a, b{"}"}` for other values
type-mismatch--in = `in` needs a set, a range or a list, and this is { $ty }
type-mismatch--in-hint = write `x in {"{"}a, b, c{"}"}`, `x in 1..3` or `x in some.list`
type-mismatch--quantifier-list = a quantifier ranges over a list, and this is { $ty }
type-mismatch--quantifier-list-hint = name a list field of the record
missing-condition--quantifier = this quantifier has no condition
missing-condition--quantifier-hint = write `any x in LIST: condition`
type-mismatch--aggregate = this aggregates numbers, and the value is { $ty }
type-mismatch--aggregate-hint = aggregate a number (or, for min/max, a date)
missing-condition--sum = say what to add up: `sum x in LIST: x.amount`
missing-condition--sum-hint = write the value after a colon
type-mismatch--ordering = items are ordered by a date or a number, and this is { $ty }
type-mismatch--ordering-hint = write `latest x in LIST: x.some_date`
missing-condition--ordering = say what orders the items: `latest x in LIST: x.date`
missing-condition--ordering-hint = write the ordering value after a colon
arity--parameter = parameter `{ $name }` is read at one date: `{ $name }(date)`
arity--parameter-hint = give one date, or write the name alone for its value on `ref`
arity--function = `{ $name }` takes { $takes } argument(s), and { $given } are given
arity--function-hint = its parameters: { $params }
unknown-function = unknown function `{ $name }`
unknown-function--hint = call a built-in (age, add_months, month_diff, year, min, max, round, ...), a `function` of the rule set, or a parameter at a date
usage--age = age(birth_date) or age(birth_date, on_date)
usage--add = { $name }(date, whole number)
usage--min-max = { $name }(a, b, ...) of numbers or of dates
type-mismatch--builtin = `{ $name }` cannot take ({ $got })
type-mismatch--builtin-hint = write { $usage }

## Diagnostics: depth.

too-deep = { $what } evaluates { $depth } levels deep{ $via }, beyond the limit of { $limit }
too-deep--hint = every definition, function call and `eligible(...)` counts with the depth of what it stands for, so more definitions do not help: compute in fewer chained steps (e.g. one `sum`/`count` over a list, a `cases` table, or one longer expression instead of a chain of definitions each building on the last)
too-deep--via-function = {" "}(through a call of function `{ $name }`)
too-deep--via-policy = {" "}(through `eligible({ $name })`)
too-deep--via-definition = {" "}(through definition `{ $name }`)
too-deep--item-list = the item list
too-deep--clause = clause { $name }
too-deep--amount = the amount
too-deep--report = report `{ $name }`
too-deep--function-result = the result of function `{ $name }`
too-deep--member = member `{ $name }`
too-deep--field = field `{ $name }`
too-deep--material = material `{ $name }`
too-deep--definition = definition `{ $name }`

## Diagnostics: syntax.

sep--comma = {", "}
sep--or = {" "}or{" "}
syntax--nested-too-deeply = this expression is nested too deeply
syntax--split-into-lets-hint = split it into `let` definitions
syntax--brackets-too-deep = brackets are nested too deeply
syntax--brackets-too-deep-hint = split the expression into `let` definitions
syntax--too-many-conditionals = too many conditionals in one block
syntax--too-many-conditionals-hint = split the block, or use a `cases` table
syntax--unclosed-string = this string is not closed: a `"` is missing
syntax--unclosed-string-hint = the file ends inside a string; close the string where its text ends
syntax--unclosed-brace = this `{"{"}` is never closed
syntax--unclosed-brace-hint = add the missing `{"}"}` at the end of the block
syntax--expected-colon = expected `:` after the quoted label
syntax--expected-colon-hint = a clause is written `C1 "label": condition`
syntax--unexpected = unexpected text here
syntax--expected = expected { $want }
syntax--reserved-word-hint = a reserved word (and, or, not, in, if, then, else, ...) cannot be used as a name
syntax--end-of-file-hint = a rule file holds `policy`, `parameter`, `scale`, `function` and `bundle` blocks; check for a missing `{"{"}` or an extra `{"}"}` above
syntax--check-line-hint = check the line against the language reference (docs/language.md)
syntax--custom = { $message }
syntax--not-a-date = `{ $text }` is not a calendar date
syntax--not-a-date-hint = write dates as YYYY-MM-DD with a real month and day
syntax--given-twice = `{ $what }` is given twice in this policy
syntax--given-twice-hint = keep one of them
syntax--effective-backwards = the effective period ends before it starts
syntax--effective-backwards-hint = write `effective FROM to UNTIL` with FROM on or before UNTIL
syntax--step-backwards = this step ends before it starts
syntax--step-backwards-hint = write `from FROM to UNTIL` with FROM on or before UNTIL
syntax--number-too-large = this number is too large or too precise
syntax--number-too-large-hint = use at most 28 digits
syntax--int-too-large = this whole number is too large
syntax--int-too-large-hint = use a number below 2^63
syntax--duration-too-large = this duration is too large
syntax--duration-too-large-hint = use a smaller number
syntax--expression-too-long = this expression is too long
syntax--path-too-long = this field path is too long
syntax--path-too-long-hint = no record is nested this deeply
syntax--internal = internal error: the parser found no { $what } here
syntax--internal-hint = this is a bug in mianshen, not in the rule file; please report it
syntax-rule--end-of-file = end of file
syntax-rule--name = a name
syntax-rule--policy-id = a policy id (kebab-case, e.g. ui-unemployment-benefit)
syntax-rule--clause-id = a clause id (C1, C2, ...)
syntax-rule--string = a quoted string
syntax-rule--date = a date (YYYY-MM-DD)
syntax-rule--expression = an expression
syntax-rule--type = a type (bool, int, decimal, string, date, an enum, list<T>)
syntax-rule--comparison = a comparison (==, !=, <, <=, >, >=)
syntax-rule--clause = a clause
syntax-rule--step-colon = `:` after the step's dates (`from 2025-01-01: 0 → 0.03, ...`)
syntax-rule--bracket-comma = `,` between brackets
syntax-rule--arrow = `→` (or `->`) between a threshold and its value
syntax-rule--value = a value

## Loading a rules directory.

load--io = cannot read { $path }: { $error }
load--refused = { $path }: { $reason }
load--encoding = { $path }:{ $line }:{ $column }: not UTF-8 text (invalid byte 0x{ $byte }); save the file as UTF-8
load--schema = { $path }: { $error }
load--diagnostics = the rule set has { $errors } error(s)

## The command line.

cli--error = error: { $message }
cli-check--scales = , { $n } scales
cli-check--ok = { $dir }: { $policies } policies, { $bundles } bundles, { $parameters } parameters{ $scales }, { $functions } functions — no errors (version { $version })
cli-check--errors = { $dir }: { $n } error(s)
cli-batch--no-policies = batch: no policies
cli-batch--all-compiled = batch: all { $n } policies compiled
cli-batch--some-compiled = batch: { $compiled } of { $n } policies compiled; decided by the reference evaluator: { $left }
cli--rules-refused = error: { $dir }: { $error }; run `mianshen check { $dir }`
cli--record-error = record { $path }: { $error }
cli--cannot-read = cannot read { $path }: { $error }
cli--bad-date = error: --date `{ $date }` is not a date: write YYYY-MM-DD
cli--sql-compiled = compiled { $compiled } policies to SQL; left out { $left }
cli--sql-left-out =   left out { $policy }: { $reason }
cli--no-such-policy = error: no policy `{ $policy }` in { $dir }
cli--unknown-field-ignored = warning: record { $path }: { $field }: unknown field (read leniently, ignored)
cli--record-invalid = error: { $error } ({ $path })

## The trace's fixed words.

trace--c0-from = 在有效期内 (in force from { $from })
trace--c0-period = 在有效期内 (in force { $from } – { $to })

## The command line: eval, prefill, test.

outcome--eligible = eligible
outcome--not-eligible = not_eligible
outcome--undetermined = undetermined
cli--no-id = (no id)
cli--did-you-mean = {" "}(did you mean `{ $name }`?)
cli--unknown-bundle = error: unknown bundle `{ $bundle }`{ $hint }
cli--bundle-wrong-subject = error: bundle { $bundle } is for records of kind `{ $expected }`, and { $path } is of kind `{ $found }`
cli--policy-wrong-subject = error: policy { $policy } is about another subject kind than this record
cli--cannot-write = cannot write { $path }: { $error }
cli--eval-error = error[{ $code }] at { $at }: { $message }
cli-eval--header = { $who } on { $date }:
cli-eval--amount = {"  "}amount: { $value } { $unit } { $period }{ $extras }
cli-eval--failed = {"  "}failed: { $clauses }
cli-eval--missing = {"  "}missing: { $fields }
cli-eval--basis = {"  "}basis: { $basis }
cli-prefill--header = { $bundle } { $title } for { $who } on { $date }
cli-prefill--members = members:
cli-prefill--available = available
cli-prefill--not-available = not_available
cli-prefill--undetermined-see-errors = undetermined (see errors)
cli-prefill--undetermined-missing = undetermined (missing { $missing })
cli-prefill--for-item = {" "}(for { $item })
cli-prefill--failed = {" "}(failed { $clauses })
cli-prefill--missing = {" "}(missing { $fields })
cli-prefill--error = {" "}(error[{ $code }] at { $at }: { $message })
cli-prefill--prefilled = prefilled:
cli-prefill--to-enter = to enter:
cli-prefill--materials = materials:
cli-prefill--material = {"  "}[{ $status }] { $label } ({ $key }) — for { $members }
cli-prefill--held = held
cli-prefill--submit = submit
cli-prefill--form-written = form written to { $path }
cli-test--fail = FAIL { $id } { $title } ({ $file })
cli-test--expected = {"  "}expected: { $json }
cli-test--actual = {"  "}actual:   { $json }
cli-test--trace = {"  "}trace:    { $json }
cli-test--summary = { $passed } passed, { $failed } failed

## The command line: run.

cli-run--panicked = error: { $message } (panicked at { $at })
cli-run--stopped = the run stopped: no outputs were written to { $out }; this is a bug of mianshen, please report it
cli-run--read = { $read } records read: { $evaluated } evaluated, { $rejected } rejected, in { $seconds } s ({ $rate } records/s)
cli-run--blank-lines = { $n } blank line(s) skipped (not records)
cli-run--outputs = grants → { $out }/grants.jsonl, pushes → { $out }/pushes.jsonl, rejected → { $out }/rejected.jsonl, evaluation errors → { $out }/errors.jsonl, summary → { $out }/summary.json
cli-run--forms = pre-filled forms → { $out }/{ $file }

## The command line: test --coverage, --properties.

cli-props--generated = generated records per policy (eligible / not_eligible / undetermined):
cli-props--declared = declared properties:
cli-props--failed = properties failed; rerun with `mianshen test { $dir } --properties --cases { $cases } --seed { $seed }`

## The decision service: the staff page (GET /).

serve-page--html-lang = en
serve-page--title = mianshen — 免申 decisions
serve-page--pick = Policy or bundle
serve-page--record = Record
serve-page--date = Reference date
serve-page--decide = Decide
serve-page--prefill = Pre-fill
serve-page--record-json = Record (JSON)
serve-page--rule-set = rule set
serve-page--in-force = in force
serve-page--amount-in = amount in
serve-page--clause = Clause
serve-page--condition = Condition
serve-page--member = Member
serve-page--form = Form:
serve-page--example = example case
serve-page--at = at
serve-page--eligible = eligible
serve-page--not-eligible = not eligible
serve-page--undetermined = undetermined
serve-page--amount = Amount:
serve-page--failed = Failed:
serve-page--missing = Missing facts:
serve-page--facts = Facts read
serve-page--not-json = the record is not JSON:
serve-page--form-title = pre-filled form
serve-page--policies = Policies
serve-page--bundles = Bundles (一件事)

## The batch's HTML report (run --report).

report--html-lang = en
report--title = 免申即享 batch report { $date }
report--heading = 免申即享 · batch report
report--meta = reference date { $date } · rule set { $version } · { $read } records read, { $evaluated } evaluated, { $rejected } rejected
report--outcomes = Outcomes per policy
report--eligible = eligible
report--not-eligible = not eligible
report--undetermined = undetermined
report--policy = policy
report--policy-title = title
report--errors = of which errors
report--amounts = Amounts
report--total-amount = total amount
report--thin = Where the data is thin
report--thin-meta = Missing fields ranked by the undetermined decisions each blocks alone (collecting it would decide them), then by all the decisions it is missing in.
report--no-missing = No decision is undetermined for missing data.
report--missing-fields = missing fields
report--field = field
report--blocks-alone = blocks alone
report--missing-in = missing in
report--policies = policies
report--near = One step away
report--near-meta = Not-eligible decisions that fail at least one and at most { $k } clause(s), the policy in force.
report--near-misses = near misses

## What each kind of evaluation error means (the code stays the same).
error-kind--division-by-zero = division by zero
error-kind--overflow = a number or date beyond the range that can be computed
error-kind--invalid-date = not a calendar date
error-kind--no-item = no item to choose from
error-kind--several-items = several items where exactly one is expected
error-kind--tie = several items share the deciding value
error-kind--parameter-without-value = a parameter without a value on the date
error-kind--no-amount = no amount for an eligible decision
error-kind--amount-precision = an amount not rounded to the cent
error-kind--invalid-argument = an argument a built-in function does not accept
error-kind--too-deep = an evaluation nested too deeply
error-kind--budget-exceeded = more evaluation steps than the budget allows
error-kind--internal = an internal error of the engine (please report it)

## Visit lists (run --visits-by).

visits--title = Visit list · { $group }
visits--no-group = no group
visits--meta = reference date { $date } · rule set { $version } · { $subjects } subject(s) to visit
visits--settles = settles { $decisions } decision(s)
visits--at-stake = amount at stake: { $amount }
visits--fact = Fact to collect
visits--unlocks = Policies it unlocks
visits--amount = Amount at stake
visits--value = Value collected
visits--near = Close to eligible (worth telling):
visits--from = {" "}from { $date }
visits--empty = No one to visit.
