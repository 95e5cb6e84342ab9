# mianshen 的信息目录（中文）。
#
# 引擎和命令行显示给人看的每一段文字，都在这里和 ../en/mianshen.ftl 中以同一个标识、
# 同样的参数各有一条（tests/messages.rs 检查两者一致）。检查提示的信息以代码命名：
# `<代码>--<说明>`。代码本身在各语言中相同。
# 字面的花括号写作 {"{"} 和 {"}"}；行首空格写作 {"  "}。

## 检查提示的格式。

diagnostic--error = 错误
diagnostic--warning = 警告
diagnostic--label = { $severity }[{ $code }]：{ $message }
diagnostic--help = {"  "}= 提示：{ $hint }

## 共用的片段。

hint--did-you-mean = 是否应为 `{ $name }`？
kind--policy = 政策
kind--function = 函数
kind--parameter = 参数
kind--scale = 刻度表
kind--bundle = 一件事
ty--enum = 枚举 { $name }
ty--list = list<{ $item }>
ty--record = 记录 `{ $path }`
ty--subject-record = 对象的记录

## 类型错误中，条件或值所在的位置。

what--function-result = 函数的结果
what--where-filter = `where` 筛选条件
what--clause = 条款
what--amount-when = 金额规则的 `when`
what--member-condition = 事项的条件
what--clause-value = 条款的取值
what--field-when = 表单字段的 `when`
what--material-held-when = 材料的 `held when`
what--operand-minus = `-` 的操作数
what--operand-not = `not` 的操作数
what--if-condition = `if` 的条件
what--and-or-operand = `and`/`or` 的每个操作数
what--cases-condition = `cases` 的条件
what--scale-date = 读取刻度表的日期
what--quantifier-condition = 量词的条件
what--parameter-date = 读取参数的日期
what--argument = 这个实参
what--if-branches = `if` 的两个分支
what--match-arms = `match` 的每个分支
what--match-pattern = 模式与被匹配的值
what--match-range = 范围与被匹配的值
what--cases-values = `cases` 的每个值
what--set-members = 值与集合的成员
what--range = 值与它的范围
what--list-items = 值与列表的项

## 检查提示：声明。

unknown-type = 未知的类型 `{ $name }`
unknown-type--hint = 可用的类型：bool、int、decimal、string、date、list<T> 或数据字典中的枚举
duplicate-id--global = { $what } `{ $name }` 定义了不止一次
duplicate-id--global-hint = { $what }的名称在整个规则集中不能重复：请改名或删去其中一个
duplicate-id--dated-name = { $what } `{ $name }` 与一个{ $other }同名
duplicate-id--dated-name-hint = 参数和刻度表共用一套名称：请将其中一个改名
type-mismatch--parameter-value = 这个值与参数的类型 { $ty } 不符
type-mismatch--parameter-value-hint = 请写一个 { $ty } 类型的值
overlapping-steps = { $what } `{ $name }` 在 { $from } 有两个时段同时生效
overlapping-steps--hint = 请给前一个时段写上截止日期（`to`），使其在下一个时段开始之前结束
empty-scale = 刻度表 `{ $name }` 的这个时段没有任何档
empty-scale--hint = 在冒号后写出“起点 → 值”（`0 → 0.03, 36000 → 0.10`）；若该刻度表自这一天起不再有值，写 `absent`
type-mismatch--bracket = 刻度表 `{ $name }` 的每一档必须是两个数
type-mismatch--bracket-hint = 请写“起点 → 值”，两者都是整数或小数（`6000 → 0.06`；负数写作 `-3`）
unordered-thresholds = 刻度表 `{ $name }` 各档的起点必须递增，而 { $threshold } 不大于前一档的起点（{ $lower }）
unordered-thresholds--hint = 请按起点从低到高写出各档，每个起点只写一次
duplicate-id--function-parameter = 形参 `{ $name }` 写了两次
duplicate-id--function-parameter-hint = 请将其中一个改名
duplicate-id--definition = `{ $name }` 在此处定义了不止一次
duplicate-id--definition-hint = 请将其中一个定义改名
cycle--definition = `{ $name }` 的定义引用了它自己
cycle--definition-hint = 定义不能直接或经由其他定义引用自身
missing-entry--subject = { $what } `{ $name }` 没有写明对象
missing-entry--subject-hint = 请加上 `subject person`（或数据字典中的其他对象类型）
unknown-subject = 未知的对象类型 `{ $name }`
unknown-subject--hint = 数据字典中的对象类型有：{ $names }
missing-entry--effective = 政策 `{ $name }` 没有写有效期
missing-entry--effective-hint = 请加上 `effective 2025-01-01 to 2025-12-31` 或 `effective from 2016-01-01`；条款 C0 由有效期产生

## 检查提示：政策。

unknown-mode = 未知的办理方式 `{ $name }`
unknown-mode--hint = 可用的办理方式：no_application（免申即享）、push_and_confirm（政策找人）或 apply（依申请）
missing-entry--mode = 政策 `{ $name }` 没有写办理方式
missing-entry--mode-hint = 请加上 `mode no_application`、`mode push_and_confirm` 或 `mode apply`
type-mismatch--for-each = `for each` 需要一个列表，而这里是 { $ty }
type-mismatch--for-each-hint = 请写记录中的一个列表，例如 enterprise.hires
reserved-clause = C0 是政策的有效期，不作为条款书写
reserved-clause--hint = 有效期用 `effective ...` 写明；其他条款从 C1 起编号
duplicate-id--clause = 条款 { $name } 在本政策中定义了不止一次
duplicate-id--clause-hint = 每个条款只编号一次，与政策原文一致
type-mismatch--amount = 金额必须是数，而这里是 { $ty }
type-mismatch--amount-hint = 请把金额写成一个小数表达式
unknown-period = 未知的发放周期 `{ $name }`
unknown-period--hint = 可用的发放周期：{ $periods }
amount-guard--without-when = 没有 `when` 的金额规则必须是最后一条
amount-guard--without-when-hint = 请给这条规则加上 `when <条件>`，或在最后一条写 `otherwise`
amount-guard--otherwise = `otherwise` 只能用于最后一条金额规则
amount-guard--otherwise-hint = 请把这条规则移到最后
total-without-items = `total` 用于汇总逐项判定的金额，而本政策没有 `for each`
total-without-items--hint = 请删去 `total`，或用 `for each ...` 逐项判定
unknown-extra = 并非每条金额规则都给出了 `{ $name }`
unknown-extra--hint = 请汇总 `value`，或在每条金额规则中都给出这个附加值
parameter-gap = { $what } `{ $name }` 在 { $gap } 没有值，而这一天在政策 `{ $policy }` 的有效期内
parameter-gap--hint = 请给 `{ $name }` 加一个涵盖 { $gap } 的时段，或缩短政策的有效期，或在政策中写 `accept gap in { $name } "原因"`
parameter-abolished--inside = { $what } `{ $name }` 自 { $day } 起声明为已废止（absent），而这一天在政策 `{ $policy }` 的有效期内：这些日期的判定将是评估错误
parameter-abolished--before = { $what } `{ $name }` 自 { $day } 起声明为已废止（absent），早于政策 `{ $policy }` 有效期的开始：这些日期的判定将是评估错误
parameter-abolished--accept = 若确属有意，也可在政策中写 `accept gap in { $name } "原因"`
parameter-abolished--to = （`to { $day }`）
parameter-abolished--end-hint = 请让政策的有效期在 { $day } 之前结束{ $to }；{ $accept }
parameter-abolished--start-hint = 请让政策的有效期在 { $after } 之后、该值重新生效时开始；{ $accept }
parameter-abolished--read-at-hint = 在基准日 `ref` 读取 `{ $name }` 的政策必须在 { $day } 之前结束；或在另一个日期读取它（`{ $at }`）；{ $accept }
duplicate-id--member = 事项 `{ $name }` 列出了两次
duplicate-id--member-hint = 每个事项只列一次

## 检查提示：一件事、性质和引用。

subject-mismatch--bundle = 政策 `{ $name }` 的对象类型与这件事的不同
subject-mismatch--bundle-hint = 一件事中的政策必须与这件事的对象类型相同
unknown-clause = 政策 `{ $policy }` 没有条款 { $clause }
unknown-clause--hint = 它的条款有：{ $clauses }
duplicate-id--form-field = 表单字段 `{ $name }` 列出了两次
duplicate-id--form-field-hint = 每个字段只列一次
unknown-member--material = 这件事中没有事项 `{ $name }`
unknown-member--material-hint = 请写这件事中的一个事项
type-mismatch--amount-bound = 金额的上下限必须是一个数
type-mismatch--amount-bound-hint = 例如写作 `amount <= 2000.00`
no-amount = 政策 `{ $name }` 没有金额，无从限定
no-amount--hint = 请删去这个性质，或给政策写上 `amount`
unknown-field--property-path = 这个路径上没有字段 `{ $name }`
unknown-field--property-path-hint = 请写对象记录中的一个字段路径
type-mismatch--monotone-path = `{ $path }` 指向的不是数或日期
type-mismatch--monotone-path-hint = 单调性质变动的是一个数或日期；列表用 [] 标出（members[].income）
unknown-policy = 未知的政策 `{ $name }`
unknown-policy--hint = 请写本规则集中定义的政策
unknown-parameter = 未知的参数 `{ $name }`
unknown-parameter--hint = 请写本规则集中定义的参数或刻度表
cycle--function = 函数 `{ $name }` 调用了它自己
cycle--function-hint = 本语言不支持递归：请不经这个调用写出计算
cycle--policy = 政策 `{ $name }` 依赖它自己的判定结果：{ $path }（经由 `eligible(...)` 或 `amount(...)`）
cycle--policy-hint = 请打破这个循环：其中一项政策必须不依赖另一项而作出判定
subject-mismatch--reference = 政策 `{ $name }` 的对象类型与本政策不同
subject-mismatch--reference-hint = 一项政策只能引用对象类型相同的政策

## 检查提示：表达式。

type-mismatch--expected = { $what }必须是 { $want }，而这里是 { $got }
type-mismatch--expected-condition-hint = 请写一个条件：比较、`in`、`and`/`or`，或一个取值为 true/false 的字段
type-mismatch--expected-hint = 请修改表达式，使其结果为 { $want }
unknown-field = { $record }中没有字段 `{ $name }`
unknown-field--hint = 它的字段有：{ $fields }
type-mismatch--field-of-list = `.{ $name }` 是从列表中读取的，而不是从一条记录中读取
type-mismatch--field-of-list-hint = 请对列表使用量词：any x in LIST: x.field、sum x in LIST: x.field、the x in LIST where ...
type-mismatch--field-of-value = `.{ $name }` 是从 { $ty } 中读取的，而它没有字段
type-mismatch--field-of-value-hint = 只有记录才有字段
unknown-member--available = 这件事中在此之前没有事项 `{ $name }`
unknown-member--available-first-hint = `available(...)` 引用的是同一件事中排在前面的事项
unknown-member--available-hint = 请写这件事中排在本事项之前的一个事项
item-choice--not-per-item = 政策 `{ $name }` 按对象整体判定一次，不是逐项判定
item-choice--not-per-item-hint = 请删去 `for …`：`{ $name }` 没有 `for each`，无项可选
item-choice--type = 政策 `{ $name }` 逐项判定的项是 { $want } 类型，而这里是 { $got }
item-choice--type-hint = 请写该政策 `for each` 列表中的一项，例如定义 `let newborn = the c in person.children where …`
type-mismatch--unordered = { $ty } 类型的值没有大小顺序
type-mismatch--unordered-hint = 数和日期用 <、<=、>、>= 比较；其他值用 == 或 != 比较
type-mismatch--compare-list = 列表和记录不能比较
type-mismatch--compare-list-hint = 请比较它们的某个字段，或使用量词
type-mismatch--compare = 不能将 { $left } 与 { $right } 比较
type-mismatch--compare-hint = 两边必须是同一类型（int 与 decimal 可以混用）
type-mismatch--join = { $what }必须是同一类型：这里是 { $left } 和 { $right }
type-mismatch--join-hint = 请使这些值的类型一致
unknown-enum-value = `{ $name }` 不是 { $enum } 的值
unknown-enum-value--hint = { $enum } 的值有：{ $values }
unknown-name = 未知的名称 `{ $name }`
unknown-name--function-hint = 函数中只能使用它的形参、它自己的定义和规则集的参数
unknown-name--hint = 名称可以是 `let` 定义、记录的字段、参数，或与枚举字段比较的枚举值
type-mismatch--scale-as-value = `{ $name }` 是刻度表，不是一个值
type-mismatch--scale-as-value-hint = 请把它用于一个金额：`marginal({ $name }, x{ $at })` 对 x 的各部分按所在档的值累进计算，`bracket({ $name }, x{ $at })` 取 x 所达到那一档的值
arity--scale = `{ $name }` 的实参是一个刻度表、一个金额和可选的日期，而这里给了 { $given } 个实参
arity--scale-hint = 请写作 `{ $name }(SCALE, amount)`；要取另一个日期生效的刻度表，写作 `{ $name }(SCALE, amount, date)`
type-mismatch--scale-argument = `{ $name }` 的第一个实参必须是一个刻度表的名称
type-mismatch--scale-argument-hint = 请写刻度表的名称：`{ $name }(SSC, amount)`
type-mismatch--scale-amount = 刻度表所作用的金额必须是数，而这里是 { $ty }
type-mismatch--scale-amount-hint = 请给 `{ $name }` 一个整数或小数（如收入、缴费基数）
type-mismatch--parameter-as-scale = `{ $name }` 是参数，不是刻度表
type-mismatch--parameter-as-scale-hint = `{ $op }` 读取的是刻度表（`scale NAME "label" {"{"} from DATE: THRESHOLD → VALUE, ... {"}"}`）；参数直接用它的名称读取
unknown-scale = 未知的刻度表 `{ $name }`
unknown-scale--hint = 请写本规则集中定义的刻度表（`scale NAME "label" {"{"} ... {"}"}`）
duration-literal = 时长必须直接写在使用它的地方
duration-literal--hint = 请在这里直接写出时长（`d + 12 months`），或对一个数使用 add_months(d, n)
type-mismatch--arithmetic = 算术运算需要数，而这里是 { $left } 和 { $right }
type-mismatch--arithmetic-hint = 日期可以加减时长（`d + 12 months`）；两个日期之差请用 month_diff(a, b) 或 age(b, d)
type-mismatch--range = 范围只能用于数和日期
type-mismatch--range-hint = 其他值请用集合 `{"{"}a, b{"}"}`
type-mismatch--in = `in` 需要一个集合、范围或列表，而这里是 { $ty }
type-mismatch--in-hint = 请写作 `x in {"{"}a, b, c{"}"}`、`x in 1..3` 或 `x in some.list`
type-mismatch--quantifier-list = 量词遍历的必须是列表，而这里是 { $ty }
type-mismatch--quantifier-list-hint = 请写记录中的一个列表字段
missing-condition--quantifier = 这个量词没有条件
missing-condition--quantifier-hint = 请写作 `any x in LIST: 条件`
type-mismatch--aggregate = 这里汇总的必须是数，而值是 { $ty }
type-mismatch--aggregate-hint = 请汇总一个数（min/max 也可以是日期）
missing-condition--sum = 请写明汇总什么：`sum x in LIST: x.amount`
missing-condition--sum-hint = 请在冒号后写出要汇总的值
type-mismatch--ordering = 各项按日期或数排序，而这里是 { $ty }
type-mismatch--ordering-hint = 请写作 `latest x in LIST: x.some_date`
missing-condition--ordering = 请写明按什么排序：`latest x in LIST: x.date`
missing-condition--ordering-hint = 请在冒号后写出排序依据
arity--parameter = 参数 `{ $name }` 只能在一个日期读取：`{ $name }(date)`
arity--parameter-hint = 请给一个日期；只写名称则取基准日 `ref` 的值
arity--function = `{ $name }` 需要 { $takes } 个实参，而这里给了 { $given } 个
arity--function-hint = 它的形参：{ $params }
unknown-function = 未知的函数 `{ $name }`
unknown-function--hint = 请调用内置函数（age、add_months、month_diff、year、min、max、round 等）、规则集中的 `function`，或在某个日期读取参数
usage--age = age(birth_date) 或 age(birth_date, on_date)
usage--add = { $name }(date, 整数)
usage--min-max = { $name }(a, b, ...)，实参全部为数或全部为日期
type-mismatch--builtin = `{ $name }` 不能接受（{ $got }）
type-mismatch--builtin-hint = 请写作 { $usage }

## 检查提示：评估深度。

too-deep = { $what }的评估深度为 { $depth } 层{ $via }，超过了 { $limit } 层的上限
too-deep--hint = 每个定义、函数调用和 `eligible(...)` 都按它所代表内容的深度计算，因此增加定义并无帮助：请减少层层相接的步骤（例如对列表用一个 `sum`/`count`、用 `cases` 表，或用一个较长的表达式代替一串逐个引用前一个的定义）
too-deep--via-function = （经由对函数 `{ $name }` 的调用）
too-deep--via-policy = （经由 `eligible({ $name })`）
too-deep--via-definition = （经由定义 `{ $name }`）
too-deep--item-list = 逐项判定的列表
too-deep--clause = 条款 { $name }
too-deep--amount = 金额
too-deep--report = 报告值 `{ $name }`
too-deep--function-result = 函数 `{ $name }` 的结果
too-deep--member = 事项 `{ $name }`
too-deep--field = 表单字段 `{ $name }`
too-deep--material = 材料 `{ $name }`
too-deep--definition = 定义 `{ $name }`

## 检查提示：语法。

sep--comma = {", "}
sep--or = {" "}或{" "}
syntax--nested-too-deeply = 这个表达式嵌套太深
syntax--split-into-lets-hint = 请拆分为若干 `let` 定义
syntax--brackets-too-deep = 括号嵌套太深
syntax--brackets-too-deep-hint = 请把表达式拆分为若干 `let` 定义
syntax--too-many-conditionals = 一个块中的条件表达式太多
syntax--too-many-conditionals-hint = 请拆分这个块，或使用 `cases` 表
syntax--unclosed-string = 这个字符串没有结束：缺少一个 `"`
syntax--unclosed-string-hint = 文件在字符串中结束；请在字符串文字结束处补上引号
syntax--unclosed-brace = 这个 `{"{"}` 没有对应的 `{"}"}`
syntax--unclosed-brace-hint = 请在块的末尾补上缺少的 `{"}"}`
syntax--expected-colon = 带引号的标签之后应有 `:`
syntax--expected-colon-hint = 条款的写法是 `C1 "标签": 条件`
syntax--unexpected = 此处的文字不合语法
syntax--expected = 此处应为 { $want }
syntax--reserved-word-hint = 保留字（and、or、not、in、if、then、else 等）不能用作名称
syntax--end-of-file-hint = 规则文件由 `policy`、`parameter`、`scale`、`function` 和 `bundle` 块组成；请检查上文是否缺少 `{"{"}` 或多了 `{"}"}`
syntax--check-line-hint = 请对照语言参考手册（docs/language.zh.md）检查这一行
syntax--custom = 语法错误：{ $message }
syntax--not-a-date = `{ $text }` 不是日历上的日期
syntax--not-a-date-hint = 日期写作 YYYY-MM-DD，月和日须真实存在
syntax--given-twice = 本政策中 `{ $what }` 写了两次
syntax--given-twice-hint = 请保留其中一个
syntax--effective-backwards = 有效期的结束日期早于开始日期
syntax--effective-backwards-hint = 请写作 `effective 开始日期 to 结束日期`，开始日期不晚于结束日期
syntax--step-backwards = 这个时段的结束日期早于开始日期
syntax--step-backwards-hint = 请写作 `from 开始日期 to 结束日期`，开始日期不晚于结束日期
syntax--number-too-large = 这个数太大或小数位太多
syntax--number-too-large-hint = 最多使用28位数字
syntax--int-too-large = 这个整数太大
syntax--int-too-large-hint = 请使用小于 2^63 的数
syntax--duration-too-large = 这个时长太长
syntax--duration-too-large-hint = 请使用较小的数
syntax--expression-too-long = 这个表达式太长
syntax--path-too-long = 这个字段路径太长
syntax--path-too-long-hint = 没有嵌套这么深的记录
syntax--internal = 内部错误：语法分析在此处没有找到 { $what }
syntax--internal-hint = 这是 mianshen 的缺陷，不是规则文件的问题；请报告
syntax-rule--end-of-file = 文件末尾
syntax-rule--name = 名称
syntax-rule--policy-id = 政策标识（小写字母和连字符，例如 ui-unemployment-benefit）
syntax-rule--clause-id = 条款编号（C1、C2……）
syntax-rule--string = 带引号的字符串
syntax-rule--date = 日期（YYYY-MM-DD）
syntax-rule--expression = 表达式
syntax-rule--type = 类型（bool、int、decimal、string、date、枚举、list<T>）
syntax-rule--comparison = 比较运算（==、!=、<、<=、>、>=）
syntax-rule--clause = 条款
syntax-rule--step-colon = 时段日期之后的 `:`（`from 2025-01-01: 0 → 0.03, ...`）
syntax-rule--bracket-comma = 各档之间的 `,`
syntax-rule--arrow = 起点与值之间的 `→`（或 `->`）
syntax-rule--value = 一个值

## 读取规则目录。

load--io = 无法读取 { $path }：{ $error }
load--refused = { $path }：{ $reason }
load--encoding = { $path }:{ $line }:{ $column }：不是 UTF-8 文本（无效字节 0x{ $byte }）；请将文件另存为 UTF-8
load--schema = { $path }：{ $error }
load--diagnostics = 规则集有 { $errors } 个错误

## 命令行。

cli--error = 错误：{ $message }
cli-check--scales = 、刻度表 { $n } 个
cli-check--ok = { $dir }：政策 { $policies } 项、一件事 { $bundles } 件、参数 { $parameters } 个{ $scales }、函数 { $functions } 个——没有错误（版本 { $version }）
cli-check--errors = { $dir }：{ $n } 个错误
cli-batch--no-policies = 批量判定：没有政策
cli-batch--all-compiled = 批量判定：全部 { $n } 项政策已编译
cli-batch--some-compiled = 批量判定：{ $n } 项政策中 { $compiled } 项已编译；由参考评估器判定的有：{ $left }
cli--rules-refused = 错误：{ $dir }：{ $error }；请运行 `mianshen check { $dir }`
cli--record-error = 记录 { $path }：{ $error }
cli--cannot-read = 无法读取 { $path }：{ $error }
cli--bad-date = 错误：--date `{ $date }` 不是日期：请写作 YYYY-MM-DD
cli--sql-compiled = 已编译为 SQL 的政策 { $compiled } 项；未编译 { $left } 项
cli--sql-left-out =   未编译 { $policy }：{ $reason }
cli--no-such-policy = 错误：{ $dir } 中没有政策 `{ $policy }`
cli--unknown-field-ignored = 警告：记录 { $path }：{ $field }：未知字段（宽松读取，已忽略）
cli--record-invalid = 错误：{ $error }（{ $path }）

## 判定记录中的固定用语。

trace--c0-from = 在有效期内（自 { $from } 起）
trace--c0-period = 在有效期内（{ $from } 至 { $to }）

## 命令行：eval、prefill、test。

outcome--eligible = 可办理
outcome--not-eligible = 不可办理
outcome--undetermined = 待补充材料
cli--no-id = （无标识）
cli--did-you-mean = （是否应为 `{ $name }`？）
cli--unknown-bundle = 错误：未知的一件事 `{ $bundle }`{ $hint }
cli--bundle-wrong-subject = 错误：一件事 { $bundle } 适用于对象类型为 `{ $expected }` 的记录，而 { $path } 的对象类型是 `{ $found }`
cli--policy-wrong-subject = 错误：政策 { $policy } 的对象类型与这条记录不同
cli--cannot-write = 无法写入 { $path }：{ $error }
cli--eval-error = 评估错误[{ $code }]，位于 { $at }：{ $message }
cli-eval--header = { $who }，基准日 { $date }：
cli-eval--amount = {"  "}金额：{ $value } { $unit } { $period }{ $extras }
cli-eval--failed = {"  "}不满足的条款：{ $clauses }
cli-eval--missing = {"  "}缺少的数据：{ $fields }
cli-eval--basis = {"  "}依据：{ $basis }
cli-prefill--header = { $bundle } { $title }，办理对象 { $who }，基准日 { $date }
cli-prefill--members = 事项：
cli-prefill--available = 可办理
cli-prefill--not-available = 不可办理
cli-prefill--undetermined-see-errors = 待补充材料（见下方错误）
cli-prefill--undetermined-missing = 待补充材料（缺少 { $missing }）
cli-prefill--for-item = （针对 { $item }）
cli-prefill--failed = （不满足 { $clauses }）
cli-prefill--missing = （缺少 { $fields }）
cli-prefill--error = （评估错误[{ $code }]，位于 { $at }：{ $message }）
cli-prefill--prefilled = 已预填：
cli-prefill--to-enter = 需填写：
cli-prefill--materials = 材料：
cli-prefill--material = {"  "}[{ $status }] { $label }（{ $key }）——用于 { $members }
cli-prefill--held = 已掌握
cli-prefill--submit = 需提交
cli-prefill--form-written = 表单已写入 { $path }
cli-test--fail = 未通过 { $id } { $title }（{ $file }）
cli-test--expected = {"  "}期望：{ $json }
cli-test--actual = {"  "}实际：{ $json }
cli-test--trace = {"  "}判定记录：{ $json }
cli-test--summary = { $passed } 个通过，{ $failed } 个未通过

## 命令行：run。

cli-run--panicked = 错误：{ $message }（panicked at { $at }）
cli-run--stopped = 运行已停止：没有向 { $out } 写入任何输出；这是 mianshen 的缺陷，请报告
cli-run--read = 读取记录 { $read } 条：判定 { $evaluated } 条，拒收 { $rejected } 条，用时 { $seconds } 秒（每秒 { $rate } 条）
cli-run--blank-lines = 跳过空行 { $n } 行（不是记录）
cli-run--outputs = 兑现 → { $out }/grants.jsonl，推送 → { $out }/pushes.jsonl，拒收 → { $out }/rejected.jsonl，评估错误 → { $out }/errors.jsonl，汇总 → { $out }/summary.json
cli-run--forms = 预填表单 → { $out }/{ $file }

## 命令行：test --coverage、--properties。

cli-props--generated = 各项政策的生成记录数（可办理 / 不可办理 / 待补充材料）：
cli-props--declared = 声明的性质：
cli-props--failed = 性质检查未通过；重新运行：`mianshen test { $dir } --properties --cases { $cases } --seed { $seed }`

## 判定服务：工作人员页面（GET /）。

serve-page--html-lang = zh-CN
serve-page--title = 免申即享 — 判定
serve-page--pick = 政策或一件事
serve-page--record = 记录
serve-page--date = 基准日期
serve-page--decide = 判定
serve-page--prefill = 预填
serve-page--record-json = 记录（JSON）
serve-page--rule-set = 规则集
serve-page--in-force = 有效期
serve-page--amount-in = 金额单位
serve-page--clause = 条款
serve-page--condition = 条件
serve-page--member = 事项
serve-page--form = 表单：
serve-page--example = 示例用例
serve-page--at = 位置
serve-page--eligible = 可办理
serve-page--not-eligible = 不可办理
serve-page--undetermined = 待补充材料
serve-page--amount = 金额：
serve-page--failed = 未满足：
serve-page--missing = 缺少的事实：
serve-page--facts = 读取的事实
serve-page--not-json = 记录不是 JSON：
serve-page--form-title = 预填表单
serve-page--policies = 政策
serve-page--bundles = 一件事

## 批量判定的 HTML 报告（run --report）。

report--html-lang = zh-CN
report--title = 免申即享 批量判定报告 { $date }
report--heading = 免申即享 · 批量判定报告
report--meta = 基准日期 { $date } · 规则集 { $version } · 读取 { $read } 条记录，判定 { $evaluated } 条，拒收 { $rejected } 条
report--outcomes = 各政策的判定结果
report--eligible = 可办理
report--not-eligible = 不可办理
report--undetermined = 待补充材料
report--policy = 政策
report--policy-title = 名称
report--errors = 其中出错
report--amounts = 金额
report--total-amount = 总金额
report--thin = 数据缺口
report--thin-meta = 缺失字段按其单独阻碍的待补充材料判定数排序（补齐它即可作出判定），再按它缺失的全部判定数排序。
report--no-missing = 没有因缺少数据而待补充材料的判定。
report--missing-fields = 缺失字段
report--field = 字段
report--blocks-alone = 单独阻碍
report--missing-in = 缺失于
report--policies = 政策
report--near = 一步之遥
report--near-meta = 不可办理的判定中，政策有效、未满足的条款至少 1 条、至多 { $k } 条的判定。
report--near-misses = 差一步的判定

## 各类评估错误的含义（代码不变）。
error-kind--division-by-zero = 除数为零
error-kind--overflow = 数值或日期超出可计算的范围
error-kind--invalid-date = 不是有效的日历日期
error-kind--no-item = 没有可选的项目
error-kind--several-items = 应当只有一项，但有多项符合
error-kind--tie = 多个项目的判定值并列，无法确定选哪一个
error-kind--parameter-without-value = 参数在该日期没有取值
error-kind--no-amount = 可办理，但没有可适用的金额
error-kind--amount-precision = 金额未舍入到分
error-kind--invalid-argument = 内置函数不接受的参数
error-kind--too-deep = 计算嵌套过深
error-kind--budget-exceeded = 计算步数超出上限
error-kind--internal = 引擎内部错误（请报告）

## 走访清单（run --visits-by）。

visits--title = 走访清单 · { $group }
visits--no-group = 未分网格
visits--meta = 判定日期 { $date } · 规则集 { $version } · 待走访 { $subjects } 人
visits--settles = 可确定 { $decisions } 项判定
visits--at-stake = 涉及金额：{ $amount }
visits--fact = 待采集信息
visits--unlocks = 可确定的政策
visits--amount = 涉及金额
visits--value = 采集结果
visits--near = 接近符合条件（可告知本人）：
visits--from = {" "}自 { $date } 起
visits--empty = 无需走访。
