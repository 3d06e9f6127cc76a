/* 流程设计: the bpmn-js modeler with Chinese labels, a Chinese properties sidebar for everything
 * the platform reads from a diagram (lane roles, forms, who holds each step, deadlines, rules, ledger operations,
 * result states, notices, number prefixes, flow conditions), the form-js editor for the process's
 * forms, and the draft / validate / deploy calls of /design/<key>/….
 *
 * Plain browser JavaScript on top of the published UMD bundles (window.BpmnJS, window.FormEditor):
 * no bundler. Extension properties are written through the moddle API (camunda-bpmn-moddle) and
 * bpmn-js commands, so undo/redo covers them. */
(function () {
  'use strict';

  var root = document.getElementById('designer');
  if (!root) { return; }

  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  var CSRF = csrfMeta ? csrfMeta.getAttribute('content') : '';
  var URLS = {
    draft: root.dataset.draftUrl,
    validate: root.dataset.validateUrl,
    deploy: root.dataset.deployUrl,
    moddle: root.dataset.moddleUrl,
    formEditor: root.dataset.formEditorUrl
  };
  var CAN_EDIT = root.dataset.canEdit === '1';
  var CAN_DEPLOY = root.dataset.canDeploy === '1';

  /* ------------------------------------------------------------------ Chinese for bpmn-js */

  var ZH = {
    // palette
    'Activate hand tool': '抓手工具：拖动画布',
    'Activate lasso tool': '套索工具：框选多个元素',
    'Activate create/remove space tool': '空间工具：插入或移除空白',
    'Activate global connect tool': '连线工具',
    'Create start event': '开始事件',
    'Create intermediate/boundary event': '中间事件 / 边界事件',
    'Create end event': '结束事件',
    'Create gateway': '网关',
    'Create task': '任务',
    'Create data object reference': '数据对象',
    'Create data store reference': '数据存储',
    'Create expanded sub-process': '子流程（展开）',
    'Create pool/participant': '池 / 参与者',
    'Create group': '分组',
    // context pad
    'Append end event': '追加结束事件',
    'Append gateway': '追加网关',
    'Append task': '追加任务',
    'Append intermediate/boundary event': '追加中间事件',
    'Append compensation activity': '追加补偿活动',
    'Append receive task': '追加接收任务',
    'Append message intermediate catch event': '追加消息捕获事件',
    'Append timer intermediate catch event': '追加定时捕获事件',
    'Append conditional intermediate catch event': '追加条件捕获事件',
    'Append signal intermediate catch event': '追加信号捕获事件',
    'Add text annotation': '添加注释',
    'Append text annotation': '添加注释',
    'Append element': '追加元素',
    'Change element': '更改类型',
    'Change type': '更改类型',
    'Delete': '删除',
    'Remove': '删除',
    'Connect using sequence/message flow or association': '连线（顺序流 / 消息流 / 关联）',
    'Connect using association': '关联连线',
    'Connect using data input association': '数据输入关联',
    'Connect to other element': '连接到其他元素',
    'Add lane above': '在上方添加泳道',
    'Add lane below': '在下方添加泳道',
    'Divide into two lanes': '拆分为两个泳道',
    'Divide into three lanes': '拆分为三个泳道',
    'Align elements': '对齐元素',
    'Align elements left': '左对齐',
    'Align elements right': '右对齐',
    'Align elements center': '水平居中',
    'Align elements top': '顶端对齐',
    'Align elements bottom': '底端对齐',
    'Align elements middle': '垂直居中',
    'Distribute elements horizontally': '水平等距分布',
    'Distribute elements vertically': '垂直等距分布',
    'Set color': '设置颜色',
    'Search in diagram': '在流程图中搜索',
    'Search': '搜索',
    'Open {element}': '打开 {element}',
    'Toggle non-interrupting': '切换为非中断',
    'Loop': '循环',
    'Parallel multi-instance': '并行多实例',
    'Sequential multi-instance': '串行多实例',
    'Collection': '集合',
    'Participant multiplicity': '参与者多重性',
    'No matching entries found.': '没有匹配的项。',
    // element names (popup "change type" menu, labels)
    'Task': '任务',
    'User task': '用户任务（人工办理）',
    'Service task': '服务任务（台账操作）',
    'Send task': '发送任务',
    'Receive task': '接收任务',
    'Manual task': '手工任务',
    'Business rule task': '业务规则任务（决策表）',
    'Script task': '脚本任务',
    'Call activity': '调用活动',
    'Sub-process': '子流程',
    'Sub-process (collapsed)': '子流程（折叠）',
    'Sub-process (expanded)': '子流程（展开）',
    'Ad-hoc sub-process': '自由子流程',
    'Ad-hoc sub-process (collapsed)': '自由子流程（折叠）',
    'Ad-hoc sub-process (expanded)': '自由子流程（展开）',
    'Event sub-process': '事件子流程',
    'Transaction': '事务',
    'Start event': '开始事件',
    'End event': '结束事件',
    'Intermediate throw event': '中间抛出事件',
    'Boundary event': '边界事件',
    'Message start event': '消息开始事件',
    'Timer start event': '定时开始事件',
    'Conditional start event': '条件开始事件',
    'Signal start event': '信号开始事件',
    'Error start event': '错误开始事件',
    'Escalation start event': '升级开始事件',
    'Compensation start event': '补偿开始事件',
    'Message start event (non-interrupting)': '消息开始事件（非中断）',
    'Timer start event (non-interrupting)': '定时开始事件（非中断）',
    'Conditional start event (non-interrupting)': '条件开始事件（非中断）',
    'Signal start event (non-interrupting)': '信号开始事件（非中断）',
    'Escalation start event (non-interrupting)': '升级开始事件（非中断）',
    'Message intermediate catch event': '消息捕获事件',
    'Message intermediate throw event': '消息抛出事件',
    'Timer intermediate catch event': '定时捕获事件',
    'Escalation intermediate throw event': '升级抛出事件',
    'Conditional intermediate catch event': '条件捕获事件',
    'Link intermediate catch event': '链接捕获事件',
    'Link intermediate throw event': '链接抛出事件',
    'Compensation intermediate throw event': '补偿抛出事件',
    'Signal intermediate catch event': '信号捕获事件',
    'Signal intermediate throw event': '信号抛出事件',
    'Message end event': '消息结束事件',
    'Escalation end event': '升级结束事件',
    'Error end event': '错误结束事件',
    'Cancel end event': '取消结束事件',
    'Compensation end event': '补偿结束事件',
    'Signal end event': '信号结束事件',
    'Terminate end event': '终止结束事件',
    'Message boundary event': '消息边界事件',
    'Message boundary event (non-interrupting)': '消息边界事件（非中断）',
    'Timer boundary event': '定时边界事件',
    'Timer boundary event (non-interrupting)': '定时边界事件（非中断）',
    'Escalation boundary event': '升级边界事件',
    'Escalation boundary event (non-interrupting)': '升级边界事件（非中断）',
    'Conditional boundary event': '条件边界事件',
    'Conditional boundary event (non-interrupting)': '条件边界事件（非中断）',
    'Error boundary event': '错误边界事件',
    'Cancel boundary event': '取消边界事件',
    'Signal boundary event': '信号边界事件',
    'Signal boundary event (non-interrupting)': '信号边界事件（非中断）',
    'Compensation boundary event': '补偿边界事件',
    'Exclusive gateway': '排他网关（按条件选一条路）',
    'Parallel gateway': '并行网关（同时走所有路）',
    'Inclusive gateway': '包容网关',
    'Complex gateway': '复杂网关',
    'Event-based gateway': '事件网关',
    'Event based instantiating Gateway': '事件实例化网关',
    'Parallel Event based instantiating Gateway': '并行事件实例化网关',
    'Sequence flow': '顺序流',
    'Default flow': '默认流',
    'Conditional flow': '条件流',
    'Data object reference': '数据对象',
    'Data store reference': '数据存储',
    'Expanded pool/participant': '池 / 参与者（展开）',
    'Empty pool/participant': '池 / 参与者（空）',
    // popup menu groups
    'Tasks': '任务', 'Gateways': '网关', 'Events': '事件', 'Start': '开始', 'End': '结束',
    'Intermediate': '中间', 'Boundary': '边界', 'Sub-processes': '子流程', 'Data': '数据',
    'Participants': '参与者', 'Other': '其他', 'Activities': '活动',
    // modeling errors
    'no parent for {element} in {parent}': '{parent} 中找不到 {element} 的上级元素',
    'no shape type specified': '未指定图形类型',
    'flow elements must be children of pools/participants': '流程元素必须位于池 / 参与者之内',
    'out of bounds release': '放置位置超出范围',
    'more than {count} child lanes': '子泳道超过 {count} 个',
    'element required': '需要选择元素',
    'diagram not part of bpmn:Definitions': '流程图不属于 bpmn:Definitions',
    'no diagram to display': '没有可显示的流程图',
    'no process or collaboration to display': '没有可显示的流程或协作',
    'element {element} referenced by {referenced}#{property} not yet drawn': '{referenced}#{property} 引用的元素 {element} 尚未绘制',
    'already rendered {element}': '{element} 已绘制',
    'failed to import {element}': '导入 {element} 失败',
    'missing {semantic}#bpmnElement': '{semantic} 缺少 bpmnElement'
  };

  function translate(template, replacements) {
    replacements = replacements || {};
    var text = Object.prototype.hasOwnProperty.call(ZH, template) ? ZH[template] : template;
    return text.replace(/{([^}]+)}/g, function (all, key) {
      return replacements[key] !== undefined ? replacements[key] : '{' + key + '}';
    });
  }

  var TYPE_LABELS = {
    'bpmn:Process': '流程', 'bpmn:Collaboration': '协作', 'bpmn:Participant': '池 / 参与者',
    'bpmn:Lane': '泳道', 'bpmn:UserTask': '用户任务', 'bpmn:ServiceTask': '服务任务',
    'bpmn:Task': '任务', 'bpmn:ScriptTask': '脚本任务', 'bpmn:BusinessRuleTask': '业务规则任务',
    'bpmn:SendTask': '发送任务', 'bpmn:ReceiveTask': '接收任务', 'bpmn:ManualTask': '手工任务',
    'bpmn:CallActivity': '调用活动', 'bpmn:SubProcess': '子流程',
    'bpmn:StartEvent': '开始事件', 'bpmn:EndEvent': '结束事件',
    'bpmn:IntermediateThrowEvent': '中间事件', 'bpmn:IntermediateCatchEvent': '中间捕获事件',
    'bpmn:BoundaryEvent': '边界事件', 'bpmn:ExclusiveGateway': '排他网关',
    'bpmn:ParallelGateway': '并行网关', 'bpmn:InclusiveGateway': '包容网关',
    'bpmn:EventBasedGateway': '事件网关', 'bpmn:SequenceFlow': '顺序流',
    'bpmn:MessageFlow': '消息流', 'bpmn:TextAnnotation': '注释', 'bpmn:Association': '关联',
    'bpmn:Group': '分组', 'bpmn:DataObjectReference': '数据对象', 'bpmn:DataStoreReference': '数据存储'
  };

  var STATES = [
    { value: 'approved', label: '已核准' },
    { value: 'rejected', label: '不予通过' },
    { value: 'completed', label: '已办结' },
    { value: 'withdrawn', label: '已撤回（如逾期未补正）' }
  ];

  /* ------------------------------------------------------------------ small helpers */

  function h(tag, attrs, children) {
    var el = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) {
      var value = attrs[name];
      if (value === undefined || value === null || value === false) { return; }
      if (name === 'text') { el.textContent = value; }
      else if (name.slice(0, 2) === 'on') { el.addEventListener(name.slice(2), value); }
      else if (name === 'value') { el.value = value; }
      else { el.setAttribute(name, value === true ? '' : value); }
    });
    (children || []).forEach(function (child) {
      if (child === null || child === undefined || child === false) { return; }
      el.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
    });
    return el;
  }

  /* options from the server: strings, or objects with key/name/value and label/title */
  function options(list) {
    return (list || []).map(function (item) {
      if (item === null || typeof item !== 'object') { return { value: String(item), label: String(item) }; }
      var value = item.key || item.name || item.value || item.id || '';
      var label = item.label || item.title || item.description || value;
      return { value: String(value), label: String(label) };
    });
  }

  function beijing(iso) {
    if (!iso) { return ''; }
    var d = new Date(iso);
    if (isNaN(d)) { return String(iso); }
    return d.toLocaleString('zh-CN', { timeZone: 'Asia/Shanghai', hour12: false,
      year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' });
  }

  function who(user) {
    if (!user) { return ''; }
    if (typeof user === 'object') { return user.display_name || user.name || user.username || ''; }
    return String(user);
  }

  function versionText(v) {
    if (v === null || v === undefined || v === '') { return ''; }
    if (typeof v === 'object') { v = v.version; }
    return '第 ' + v + ' 版';
  }

  function request(method, url, body) {
    var init = { method: method, credentials: 'same-origin',
      headers: { 'Accept': 'application/json', 'X-CSRFToken': CSRF } };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    return fetch(url, init).then(function (response) {
      return response.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
        return { status: response.status, ok: response.ok, data: data };
      });
    }, function () {
      return { status: 0, ok: false, data: { error: { message: '无法连接服务器，请检查网络后重试' } } };
    });
  }

  function errorMessage(result, fallback) {
    var err = result.data && result.data.error;
    if (err && err.message) { return err.message; }
    if (result.status === 403) { return '无权执行此操作'; }
    if (result.status === 401) { return '登录已失效，请重新登录'; }
    return fallback + '（HTTP ' + result.status + '）';
  }

  var messageBox = document.getElementById('designer-message');
  function say(text, kind) {
    messageBox.hidden = !text;
    messageBox.className = 'designer-message ' + (kind || 'info');
    messageBox.textContent = text || '';
  }

  function loadScript(url) {
    return new Promise(function (resolve, reject) {
      var s = document.createElement('script');
      s.src = url;
      s.onload = resolve;
      s.onerror = function () { reject(new Error('无法加载 ' + url)); };
      document.body.appendChild(s);
    });
  }

  /* ------------------------------------------------------------------ state */

  var draft = null;          // the last draft.json answer
  var forms = {};            // form key -> schema, as it will be sent
  var dirtyForms = {};       // form keys edited in the form editor since the last save
  var diagramDirty = false;
  var modeler = null;
  var formEditor = null;
  var currentFormKey = null;
  var catalog = { roles: [], operations: [], rules: [], formKeys: [], notices: [],
    assignment: { kinds: [], lanes: {}, departments: [] } };
  var statusLine = document.getElementById('designer-status');
  var buttons = {
    save: document.getElementById('btn-save'),
    validate: document.getElementById('btn-validate'),
    deploy: document.getElementById('btn-deploy')
  };

  function isDirty() {
    return diagramDirty || Object.keys(dirtyForms).length > 0;
  }

  function showStatus() {
    if (!draft) { return; }
    var parts = [];
    if (draft.is_draft) {
      parts.push('草稿' + (draft.based_on ? '（基于' + versionText(draft.based_on) + '）' : ''));
      if (draft.updated_at) { parts.push(who(draft.updated_by) + ' 保存于 ' + beijing(draft.updated_at)); }
    } else {
      parts.push('尚无草稿，当前显示' + (versionText(draft.based_on) || '已部署版本'));
      if (draft.updated_at) { parts.push((who(draft.updated_by) || '系统') + ' 部署于 ' + beijing(draft.updated_at)); }
    }
    if (isDirty()) { parts.push('有未保存的修改'); }
    statusLine.textContent = parts.join(' · ');
    statusLine.classList.toggle('dirty', isDirty());
  }

  function setBusy(busy) {
    Object.keys(buttons).forEach(function (k) { if (buttons[k]) { buttons[k].disabled = busy; } });
  }

  window.addEventListener('beforeunload', function (event) {
    if (CAN_EDIT && isDirty()) { event.preventDefault(); event.returnValue = ''; }
  });

  /* ------------------------------------------------------------------ tabs */

  var tabs = { diagram: document.getElementById('tab-diagram'), forms: document.getElementById('tab-forms') };
  var panes = { diagram: document.getElementById('pane-diagram'), forms: document.getElementById('pane-forms') };

  function showTab(name) {
    Object.keys(tabs).forEach(function (k) {
      tabs[k].setAttribute('aria-selected', k === name ? 'true' : 'false');
      panes[k].hidden = k !== name;
    });
    if (name === 'forms') { openFormsTab(); }
    if (name === 'diagram' && modeler) {
      modeler.get('canvas').resized();
      // the context pad was placed while the canvas was hidden: place it again
      var selection = modeler.get('selection');
      var current = selection.get().slice();
      if (current.length) { selection.select(null); selection.select(current); }
    }
  }
  tabs.diagram.addEventListener('click', function () { showTab('diagram'); });
  tabs.forms.addEventListener('click', function () { showTab('forms'); });

  /* ------------------------------------------------------------------ extension properties */

  function camundaProperties(bo) {
    var ext = bo.get('extensionElements');
    if (!ext) { return null; }
    return (ext.get('values') || []).filter(function (v) { return v.$instanceOf('camunda:Properties'); })[0] || null;
  }

  function getProperty(bo, name) {
    var props = camundaProperties(bo);
    if (!props) { return ''; }
    var prop = (props.get('values') || []).filter(function (p) { return p.name === name; })[0];
    return prop ? (prop.value || '') : '';
  }

  /* Sets (or, with an empty value, removes) one camunda:property through bpmn-js commands. */
  function setProperty(element, name, value) {
    var modeling = modeler.get('modeling');
    var moddle = modeler.get('moddle');
    var bo = element.businessObject;
    value = (value === undefined || value === null) ? '' : String(value).trim();
    var ext = bo.get('extensionElements');
    var props = camundaProperties(bo);
    var prop = props ? (props.get('values') || []).filter(function (p) { return p.name === name; })[0] : null;
    if (!value) {
      if (prop) {
        modeling.updateModdleProperties(element, props, {
          values: props.get('values').filter(function (p) { return p !== prop; })
        });
      }
      return;
    }
    if (prop) {
      if (prop.value !== value) { modeling.updateModdleProperties(element, prop, { value: value }); }
      return;
    }
    if (!ext) {
      ext = moddle.create('bpmn:ExtensionElements', { values: [] });
      ext.$parent = bo;
      modeling.updateProperties(element, { extensionElements: ext });
    }
    if (!props) {
      props = moddle.create('camunda:Properties', { values: [] });
      props.$parent = ext;
      modeling.updateModdleProperties(element, ext, { values: ext.get('values').concat([props]) });
    }
    prop = moddle.create('camunda:Property', { name: name, value: value });
    prop.$parent = props;
    modeling.updateModdleProperties(element, props, { values: props.get('values').concat([prop]) });
  }

  function setName(element, value) {
    value = (value || '').trim();
    if ((element.businessObject.name || '') === value) { return; }
    modeler.get('modeling').updateLabel(element, value || null);
  }

  function setCondition(element, value) {
    var modeling = modeler.get('modeling');
    var bo = element.businessObject;
    var expr = bo.get('conditionExpression');
    value = (value || '').trim();
    if (!value) {
      if (expr) { modeling.updateProperties(element, { conditionExpression: undefined }); }
      return;
    }
    if (expr) {
      if (expr.body !== value) { modeling.updateModdleProperties(element, expr, { body: value }); }
      return;
    }
    expr = modeler.get('moddle').create('bpmn:FormalExpression', { body: value });
    modeling.updateProperties(element, { conditionExpression: expr });
  }

  function timerOf(bo) {
    var defs = bo.get('eventDefinitions') || [];
    return defs.filter(function (d) { return d.$instanceOf('bpmn:TimerEventDefinition'); })[0] || null;
  }

  /* timer_workdays is what the platform schedules by (working days); the standard duration is
   * kept in step as calendar days ("P10D", a quoted string for the engine) for other tools. */
  function setTimerWorkdays(element, timer, value) {
    value = (value || '').trim();
    setProperty(element, 'timer_workdays', value);
    if (!/^\d+$/.test(value) || timer.get('timeDate') || timer.get('timeCycle')) { return; }
    var body = '"P' + parseInt(value, 10) + 'D"';
    var modeling = modeler.get('modeling');
    var duration = timer.get('timeDuration');
    if (duration) {
      if (duration.body !== body) { modeling.updateModdleProperties(element, duration, { body: body }); }
    } else {
      duration = modeler.get('moddle').create('bpmn:FormalExpression', { body: body });
      duration.$parent = timer;
      modeling.updateModdleProperties(element, timer, { timeDuration: duration });
    }
  }

  /* ------------------------------------------------------------------ 办理人 (assignment)
   * A user task's `assignment` property names who holds the step (organisation/routing.py):
   * a kind, and for department / user / field its argument ("department:zzb"; section and
 * leader_of_section may name a section of the case's office, "section:sy"). Left empty,
   * the lane's default holds it. The words are the server's (routing.KINDS, default_for), sent
   * in draft.json as `assignment`, so the text here reads as routing.describe does. */

  var pendingKind = {};  // element id -> a kind chosen whose argument is not typed in yet

  function kindInfo(key) {
    return (catalog.assignment.kinds || []).filter(function (k) { return k.key === key; })[0] || null;
  }

  function laneOf(bo) {
    var lanes = (bo.get && bo.get('lanes')) || [];
    var known = lanes.filter(function (l) { return l.name && catalog.assignment.lanes[l.name.trim()]; });
    var lane = known[known.length - 1] || lanes[lanes.length - 1];
    return lane && lane.name ? lane.name.trim() : '';
  }

  function laneInfo(laneName) {
    return catalog.assignment.lanes[laneName] || null;
  }

  function parseAssignment(value) {
    var text = (value || '').trim();
    var at = text.indexOf(':');
    var kind = (at < 0 ? text : text.slice(0, at)).trim(), arg = at < 0 ? '' : text.slice(at + 1).trim();
    return { text: text, kind: kind, arg: arg, info: kindInfo(kind) };
  }

  /* Who holds the step, in Chinese (what routing.describe says on the server). */
  function holdersText(value, laneName) {
    var a = parseAssignment(value);
    if (!a.text) {
      var lane = laneInfo(laneName);
      var fallback = kindInfo('office');
      return (lane ? lane.default_label : (fallback ? fallback.label : '')) + '（泳道默认）';
    }
    if (!a.info) { return '办理人设置「' + a.text + '」无法识别，请重新选择'; }
    if (a.info.argument && !a.info.optional && !a.arg) { return '请填写' + a.info.argument; }
    return a.arg ? (a.info.named_label || a.info.label) + '：' + a.arg : a.info.label;
  }

  function argumentChoices(kind) {
    if (kind === 'department') {
      return (catalog.assignment.departments || []).map(function (d) { return { value: d.code, label: d.name }; });
    }
    if (kind === 'section' || kind === 'leader_of_section') {
      return (catalog.assignment.sections || []).map(function (d) { return { value: d.code, label: d.name }; });
    }
    if (kind === 'field') {
      var seen = {}, found = [];
      Object.keys(forms).forEach(function (key) {
        ((forms[key] && forms[key].components) || []).forEach(function (c) {
          if (c && c.key && !seen[c.key] && c.type !== 'filepicker') {
            seen[c.key] = true;
            found.push({ value: c.key, label: (c.label || c.key) + '（' + key + '）' });
          }
        });
      });
      return found;
    }
    return [];
  }

  function assignmentField(element) {
    var bo = element.businessObject;
    var laneName = laneOf(bo);
    var lane = laneInfo(laneName);
    var current = parseAssignment(getProperty(bo, 'assignment'));
    var kind = current.text ? current.kind : (pendingKind[bo.id] || '');
    var arg = current.text ? current.arg : '';
    var usable = lane ? lane.kinds : (catalog.assignment.kinds || []).map(function (k) { return k.key; });

    var holders = h('p', { 'class': 'holders', id: fieldId('assignment-holders'), 'aria-live': 'polite' });
    function showHolders(value) {
      holders.textContent = '办理人：' + holdersText(value, laneName);
    }

    var select = h('select', { id: fieldId('assignment'), name: 'assignment' });
    select.appendChild(h('option', { value: '',
      text: '按泳道默认' + (lane ? '（' + lane.default_label + '）' : '') }));
    usable.forEach(function (key) {
      var info = kindInfo(key);
      if (info) { select.appendChild(h('option', { value: key, text: info.label + '（' + key + '）' })); }
    });
    if (kind && usable.indexOf(kind) < 0) {
      var info = kindInfo(kind);
      select.appendChild(h('option', { value: kind,
        text: (info ? info.label + '（' + kind + '）' : current.text) + '（当前值，此泳道不可用）' }));
    }
    select.value = kind;

    var listId = fieldId('assignment-choices');
    var list = h('datalist', { id: listId });
    var argLabel = h('label', { 'for': fieldId('assignment-arg') });
    var argInput = h('input', { id: fieldId('assignment-arg'), name: 'assignment-arg', type: 'text', list: listId,
      spellcheck: 'false', autocomplete: 'off', value: arg });
    var argBox = h('div', { 'class': 'field assignment-arg' }, [argLabel, argInput, list]);

    function showArgument(forKind) {
      var info = kindInfo(forKind);
      argBox.hidden = !(info && info.argument);
      if (argBox.hidden) { return; }
      argLabel.textContent = info.argument + (info.optional ? '（可不填）' : '');
      argInput.placeholder = info.optional ? '不填即案件单位的归口科室' : forKind === 'department' ? '如 zzb'
        : forKind === 'user' ? '如 reviewer1' : '如 next_reviewer';
      list.textContent = '';
      argumentChoices(forKind).forEach(function (c) {
        list.appendChild(h('option', { value: c.value, label: c.label, text: c.label }));
      });
    }

    function commit() {
      var chosen = select.value, info = kindInfo(chosen), value = '';
      if (!chosen) {
        delete pendingKind[bo.id];
      } else if (info && info.argument) {
        var typed = argInput.value.trim();
        if (typed) { value = chosen + ':' + typed; delete pendingKind[bo.id]; }
        else if (info.optional) { value = chosen; delete pendingKind[bo.id]; }
        else { pendingKind[bo.id] = chosen; }
      } else {
        value = chosen;
        delete pendingKind[bo.id];
      }
      setProperty(element, 'assignment', value);
      showHolders(value || (pendingKind[bo.id] ? pendingKind[bo.id] + ':' : ''));
    }

    select.addEventListener('change', function () {
      if (select.value !== kind) { argInput.value = ''; }
      kind = select.value;
      showArgument(kind);
      commit();
    });
    argInput.addEventListener('change', commit);
    showArgument(kind);
    showHolders(current.text || (kind ? kind + ':' : ''));

    return h('fieldset', { 'class': 'props-assignment' }, [
      h('legend', { text: '办理人' }),
      h('div', { 'class': 'field' }, [h('label', { 'for': fieldId('assignment'), text: '由谁办理' }), select]),
      argBox,
      holders,
      h('div', { 'class': 'hint', text: laneName
        ? '「' + laneName + '」泳道的环节；留空按泳道默认。科室、部门、用户和表单字段须实际存在，校验时检查。'
        : '先把环节放进某个泳道，再设置办理人。' })
    ]);
  }

  /* Every user task of the diagram with who holds it (the process panel). */
  function holdersList() {
    if (!modeler) { return null; }
    var tasks = modeler.get('elementRegistry').filter(function (e) { return e.type === 'bpmn:UserTask'; });
    if (!tasks.length) { return null; }
    return h('div', { 'class': 'props-holders' }, [
      h('h3', { text: '各环节办理人' }),
      h('ul', {}, tasks.map(function (t) {
        var bo = t.businessObject;
        return h('li', {}, [h('strong', { text: (bo.name || bo.id) + '：' }),
          holdersText(getProperty(bo, 'assignment'), laneOf(bo))]);
      }))
    ]);
  }

  /* ------------------------------------------------------------------ the properties sidebar */

  var panel = document.getElementById('props');
  var selected = null;

  function fieldId(name) { return 'prop-' + name; }

  function textField(name, label, value, commit, extra) {
    extra = extra || {};
    var input = h(extra.multiline ? 'textarea' : 'input', {
      id: fieldId(name), name: name, type: extra.multiline ? null : (extra.type || 'text'),
      rows: extra.multiline ? (extra.rows || 4) : null, min: extra.min, step: extra.step,
      placeholder: extra.placeholder, value: value || '', spellcheck: 'false',
      onchange: function () { commit(input.value); }
    });
    if (extra.multiline) { input.value = value || ''; }
    return h('div', { 'class': 'field' }, [
      h('label', { 'for': fieldId(name), text: label }), input,
      extra.hint ? h('div', { 'class': 'hint', text: extra.hint }) : null
    ]);
  }

  function selectField(name, label, value, choices, commit, extra) {
    extra = extra || {};
    var select = h('select', { id: fieldId(name), name: name, onchange: function () { commit(select.value); } });
    if (extra.empty !== undefined) { select.appendChild(h('option', { value: '', text: extra.empty })); }
    var known = false;
    choices.forEach(function (c) {
      if (c.value === value) { known = true; }
      select.appendChild(h('option', { value: c.value,
        text: c.text || (c.label === c.value ? c.label : c.label + '（' + c.value + '）') }));
    });
    if (value && !known) {
      select.appendChild(h('option', { value: value, text: value + '（当前值）' }));
    }
    select.value = value || '';
    return h('div', { 'class': 'field' }, [
      h('label', { 'for': fieldId(name), text: label }), select,
      extra.hint ? h('div', { 'class': 'hint', text: extra.hint }) : null
    ]);
  }

  function isType(bo, types) {
    return types.some(function (t) { return bo.$instanceOf(t); });
  }

  function processOf() {
    var rootEl = modeler.get('canvas').getRootElement();
    var bo = rootEl && rootEl.businessObject;
    if (!bo || !bo.$instanceOf) { return { rootEl: rootEl, process: null, participant: null }; }
    if (bo.$instanceOf('bpmn:Collaboration')) {
      var participant = (bo.get('participants') || []).filter(function (p) { return p.processRef; })[0];
      return { rootEl: rootEl, process: participant ? participant.processRef : null, participant: participant };
    }
    return { rootEl: rootEl, process: bo, participant: null };
  }

  function renderProcessPanel() {
    var info = processOf();
    var process = info.process;
    var children = [
      h('h2', { text: '流程属性' }),
      h('p', { 'class': 'props-type', text: '流程 · ' + (process ? process.id : '') })
    ];
    if (process) {
      children.push(textField('process-name', '流程名称', process.name, function (v) {
        v = (v || '').trim();
        if (!v || v === process.name) { return; }
        modeler.get('modeling').updateModdleProperties(info.rootEl, process, { name: v });
        if (info.participant) {
          var shape = modeler.get('elementRegistry').get(info.participant.id);
          if (shape) { setName(shape, v); }
        }
      }, { hint: '一站式服务窗口和案件列表显示的业务名称' }));
    }
    children.push(holdersList());
    children.push(h('div', { 'class': 'props-help' }, [
      h('p', { text: '点选流程图中的元素，在这里设置平台读取的内容：' }),
      h('ul', {}, [
        h('li', { text: '泳道：由哪类人员办理（角色）' }),
        h('li', { text: '用户任务：表单、办理人、办理时限、校验规则' }),
        h('li', { text: '服务任务：台账操作' }),
        h('li', { text: '开始事件：案件编号前缀' }),
        h('li', { text: '结束 / 中间事件：结果状态、通知书、纸质材料' }),
        h('li', { text: '网关后的连线：条件' })
      ]),
      h('p', { 'class': 'hint', text: '从左侧工具栏拖入新元素；点选元素后用旁边的小图标追加下一步、更改类型或删除。' })
    ]));
    return children;
  }

  function renderElementPanel(element) {
    var bo = element.businessObject;
    var type = bo.$type;
    var children = [
      h('h2', { text: bo.name || TYPE_LABELS[type] || type }),
      h('p', { 'class': 'props-type' }, [(TYPE_LABELS[type] || type) + ' · ', h('code', { text: bo.id })])
    ];

    if (type === 'bpmn:Lane') {
      var roleChoices = options(catalog.roles).map(function (r) {
        // the lane NAME is what the platform reads: the label is the name, the key the role
        return { value: r.label, label: r.label, text: r.label === r.value ? r.label : r.label + '（' + r.value + '）' };
      });
      children.push(selectField('role', '角色（办理人）', bo.name || '', roleChoices, function (v) {
        setName(element, v);
      }, { empty: '（请选择角色）', hint: '泳道中的每个环节由这一角色的人员办理；「单位经办人」指本案件申请单位的经办人。' }));
      return children;
    }

    children.push(textField('name', '名称', bo.name, function (v) { setName(element, v); },
      { hint: type === 'bpmn:SequenceFlow' ? '显示在连线上，如「同意」「退回补正」' : '显示在流程图、待办和案件记录中' }));

    if (type === 'bpmn:UserTask') {
      children.push(selectField('formKey', '表单', bo.get('camunda:formKey') || '', options(catalog.formKeys),
        function (v) { modeler.get('modeling').updateProperties(element, { 'camunda:formKey': v || undefined }); },
        { empty: '（请选择表单）', hint: '办理此环节时填写的表单（forms/ 下的 Camunda 表单）' }));
      children.push(assignmentField(element));
      children.push(textField('deadline_days', '办理时限（工作日）', getProperty(bo, 'deadline_days'),
        function (v) { setProperty(element, 'deadline_days', v); },
        { type: 'number', min: 1, step: 1, placeholder: '不限', hint: '按工作日计算，法定节假日不计入；留空表示不限' }));
      children.push(selectField('rule', '校验规则', getProperty(bo, 'rule'), options(catalog.rules),
        function (v) { setProperty(element, 'rule', v); },
        { empty: '（无）', hint: '提交时按编制台账检查（如空编是否足够）' }));

      var remind = getProperty(bo, 'remind_workdays_before'), escalate = getProperty(bo, 'escalate_after_workdays');
      children.push(h('details', { 'class': 'props-more', open: !!(remind || escalate) }, [
        h('summary', { text: '提醒与超期升级' }),
        textField('remind_workdays_before', '到期前提醒（工作日）', remind,
          function (v) { setProperty(element, 'remind_workdays_before', v); },
          { type: 'number', min: 0, step: 1, placeholder: '按系统设置', hint: '到期前几个工作日提醒办理人；留空按系统设置' }),
        textField('escalate_after_workdays', '超期后升级（工作日）', escalate,
          function (v) { setProperty(element, 'escalate_after_workdays', v); },
          { type: 'number', min: 0, step: 1, placeholder: '按系统设置', hint: '超期几个工作日后报告上级；留空按系统设置' })
      ]));
    }

    var timer = timerOf(bo);
    if (timer) {
      children.push(textField('timer_workdays', '定时（工作日）', getProperty(bo, 'timer_workdays'),
        function (v) { setTimerWorkdays(element, timer, v); },
        { type: 'number', min: 1, step: 1, placeholder: '如 10',
          hint: bo.$instanceOf('bpmn:BoundaryEvent')
            ? '所附环节满这么多个工作日仍未办理，流程改走此事件之后的连线（如逾期未补正视为撤回）'
            : '等待这么多个工作日后继续' }));
    }

    if (type === 'bpmn:ServiceTask') {
      children.push(selectField('operation', '台账操作', getProperty(bo, 'operation'), options(catalog.operations),
        function (v) { setProperty(element, 'operation', v); },
        { empty: '（请选择台账操作）', hint: '流程走到这里时对实名制台账执行的登记操作，每个案件只执行一次' }));
    }

    if (type === 'bpmn:StartEvent') {
      children.push(textField('number_prefix', '编号前缀', getProperty(bo, 'number_prefix'),
        function (v) { setProperty(element, 'number_prefix', (v || '').toUpperCase()); },
        { placeholder: '如 KBSY', hint: '案件编号形如 KBSY-2026-0001' }));
    }

    if (isType(bo, ['bpmn:EndEvent', 'bpmn:IntermediateThrowEvent', 'bpmn:IntermediateCatchEvent'])) {
      children.push(selectField('state', '结果状态', getProperty(bo, 'state'), STATES,
        function (v) { setProperty(element, 'state', v); },
        { empty: '（不改变案件状态）', hint: '流程到达此事件时案件进入的状态' }));
      children.push(selectField('notice', '通知书模板', getProperty(bo, 'notice'), options(catalog.notices),
        function (v) { setProperty(element, 'notice', v); },
        { empty: '（不出具通知书）', hint: 'templates/notices/ 中的模板' }));
      children.push(textField('notice_title', '通知书标题', getProperty(bo, 'notice_title'),
        function (v) { setProperty(element, 'notice_title', v); }, { placeholder: '如 空编使用审核表' }));
      var materials = getProperty(bo, 'materials').split('；').filter(Boolean).join('\n');
      children.push(textField('materials', '纸质材料（每行一项）', materials, function (v) {
        setProperty(element, 'materials', (v || '').split(/\n+/).map(function (s) { return s.trim(); })
          .filter(Boolean).join('；'));
      }, { multiline: true, rows: 5, hint: '列在通知书上，请申请单位携带的纸质材料' }));
    }

    if (type === 'bpmn:SequenceFlow') {
      var expr = bo.get('conditionExpression');
      var fromGateway = bo.sourceRef && bo.sourceRef.$instanceOf('bpmn:Gateway');
      children.push(textField('condition', '条件', expr ? expr.body : '', function (v) { setCondition(element, v); }, {
        placeholder: 'decision == "approve"',
        hint: fromGateway ? '用上一步表单的字段写条件，如 decision == "approve"、count > 5；只能比较取值，不能调用函数。'
          : '条件只在网关之后的连线上起作用。'
      }));
      var src = bo.sourceRef;
      if (src && src.$instanceOf('bpmn:ExclusiveGateway')) {
        var isDefault = src.get('default') === bo;
        children.push(h('div', { 'class': 'field' }, [
          h('label', { 'class': 'check' }, [
            h('input', { type: 'checkbox', id: fieldId('default'), checked: isDefault, onchange: function (e) {
              var gw = modeler.get('elementRegistry').get(src.id);
              modeler.get('modeling').updateProperties(gw, { 'default': e.target.checked ? bo : undefined });
            } }), ' 默认流（其他条件都不满足时走这条）'
          ])
        ]));
      }
    }
    return children;
  }

  function renderPanel() {
    if (!modeler) { return; }
    if (panel.contains(document.activeElement) && document.activeElement !== panel) { return; }
    panel.textContent = '';
    var content = selected ? renderElementPanel(selected) : renderProcessPanel();
    content.forEach(function (c) { if (c) { panel.appendChild(c); } });
  }

  /* ------------------------------------------------------------------ findings */

  var findingsBox = document.getElementById('findings');
  var findingsList = document.getElementById('findings-list');
  var marked = [];

  function clearFindings() {
    if (modeler) {
      var canvas = modeler.get('canvas');
      marked.forEach(function (id) {
        if (modeler.get('elementRegistry').get(id)) {
          canvas.removeMarker(id, 'has-finding');
          canvas.removeMarker(id, 'finding-focus');
        }
      });
    }
    marked = [];
    findingsList.textContent = '';
    findingsBox.hidden = true;
  }

  function focusElement(id) {
    var registry = modeler.get('elementRegistry');
    var element = registry.get(id);
    if (!element) { return false; }
    showTab('diagram');
    var canvas = modeler.get('canvas');
    marked.forEach(function (m) { if (registry.get(m)) { canvas.removeMarker(m, 'finding-focus'); } });
    canvas.addMarker(id, 'finding-focus');
    if (marked.indexOf(id) < 0) { marked.push(id); }
    if (canvas.scrollToElement) { canvas.scrollToElement(element, { top: 80, bottom: 80, left: 120, right: 120 }); }
    modeler.get('selection').select(element);
    return true;
  }

  function formKeyOf(id) {
    if (!id) { return null; }
    var m = /^(?:forms\/)?([^\/]+?)(?:\.json)?$/.exec(String(id));
    return m && forms[m[1]] ? m[1] : null;
  }

  function showFindings(findings, title) {
    clearFindings();
    if (!findings.length) { return; }
    findingsBox.hidden = false;
    document.getElementById('findings-title').textContent = title || ('校验发现 ' + findings.length + ' 处问题');
    var registry = modeler.get('elementRegistry');
    findings.forEach(function (f) {
      var onDiagram = f.element && registry.get(f.element);
      var formKey = !onDiagram && formKeyOf(f.element);
      if (onDiagram && marked.indexOf(f.element) < 0) {
        modeler.get('canvas').addMarker(f.element, 'has-finding');
        marked.push(f.element);
      }
      var what = [];
      if (f.element) { what.push(h('code', { text: f.element })); }
      if (f.name) { what.push(' ' + f.name); }
      var item = h('li', { 'class': onDiagram || formKey ? 'clickable' : '' }, [
        h('span', { 'class': 'finding-where' }, what.length ? what : ['整个流程']),
        h('span', { 'class': 'finding-message', text: f.message || '' })
      ]);
      if (onDiagram || formKey) {
        item.setAttribute('tabindex', '0');
        item.setAttribute('role', 'button');
        item.title = onDiagram ? '在流程图中定位' : '打开表单';
        var go = function () {
          if (onDiagram) { focusElement(f.element); } else { showTab('forms'); pickForm(formKey); }
        };
        item.addEventListener('click', go);
        item.addEventListener('keydown', function (e) { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); go(); } });
      }
      findingsList.appendChild(item);
    });
  }

  /* the 422 error body {"error": {"message", "fields": {element: [messages]}}} as findings */
  function findingsFromError(result) {
    var fields = (result.data && result.data.error && result.data.error.fields) || {};
    var list = [];
    Object.keys(fields).forEach(function (element) {
      var messages = Array.isArray(fields[element]) ? fields[element] : [fields[element]];
      messages.forEach(function (m) {
        var shape = modeler.get('elementRegistry').get(element);
        list.push({ element: element, name: shape ? shape.businessObject.name : '', message: String(m) });
      });
    });
    return list;
  }

  /* ------------------------------------------------------------------ forms tab */

  var formSelect = document.getElementById('form-select');
  var formBox = document.getElementById('form-editor');
  var formUsedBy = document.getElementById('form-used-by');
  var formEditorLoading = null;

  var FORM_ZH = {
    'Components': '组件', 'Search components': '搜索组件', 'Input': '输入', 'Selection': '选择',
    'Presentation': '展示', 'Containers': '容器', 'Action': '操作',
    'Text field': '单行文本', 'Text area': '多行文本', 'Number': '数字', 'Date time': '日期时间',
    'Expression': '表达式', 'File picker': '附件上传', 'Checkbox': '复选框', 'Checkbox group': '复选框组',
    'Radio group': '单选按钮组', 'Select': '下拉选择', 'Tag list': '标签列表', 'Text view': '文字说明',
    'HTML view': 'HTML', 'Image view': '图片', 'Table': '表格', 'iFrame': '内嵌页面', 'Spacer': '空白',
    'Separator': '分隔线', 'Group': '分组', 'Dynamic list': '动态列表（多条记录）', 'Button': '按钮',
    'Document preview': '文档预览',
    'General': '常规', 'Condition': '显示条件', 'Validation': '校验', 'Options source': '选项来源',
    'Static options': '固定选项', 'Custom properties': '自定义属性', 'Appearance': '外观', 'Layout': '布局',
    'Serialization': '序列化', 'Constraints': '约束', 'Security attributes': '安全属性',
    'Field label': '字段标签', 'Field description': '字段说明', 'Key': 'key（数据字段名）',
    'Binds to a form variable': '绑定到表单数据字段', 'Default value': '默认值', 'Required': '必填',
    'Disabled': '禁用', 'Read only': '只读', 'Minimum length': '最少字数', 'Maximum length': '最多字数',
    'Minimum': '最小值', 'Maximum': '最大值', 'Label': '标签', 'Value': '取值', 'Type': '类型',
    'Columns': '列宽', 'Auto': '自动', 'Hide if': '隐藏条件', 'Prefix': '前缀', 'Suffix': '后缀',
    'Decimal digits': '小数位数', 'Increment': '步长', 'Placeholder': '占位提示', 'Text': '文字',
    'Regular expression pattern': '正则表达式', 'Validation pattern': '校验格式', 'Custom': '自定义',
    'Email': '电子邮箱', 'Phone': '电话', 'Name': '名称', 'Description': '说明', 'Options': '选项',
    'Static': '固定', 'Input data': '输入数据', 'Expression ': '表达式 ', 'Subtype': '子类型',
    'Date': '日期', 'Time': '时间', 'Date label': '日期标签', 'Time label': '时间标签',
    'Disallow past dates': '不允许过去的日期', 'Time format': '时间格式', 'Time interval': '时间间隔',
    'Use 24h': '24 小时制', 'Serialize to': '保存格式', 'Supported file formats': '允许的文件格式',
    'Upload multiple files': '允许多个文件', 'Create new list item': '新增一项', 'Create': '新增',
    'Delete item': '删除此项', 'Toggle list item': '展开 / 收起', 'Toggle section': '展开 / 收起',
    '<empty>': '（空）', 'Remove': '删除', 'Delete': '删除', 'Copy': '复制', 'Properties': '属性',
    'Form': '表单', 'Id': 'ID', 'ID': 'ID', 'Form definition': '表单定义', 'Vertical alignment': '垂直对齐',
    'Height': '高度', 'Width': '宽度', 'Default number of items': '默认条数', 'Allow add/delete items': '允许增删',
    'Disable collapse': '禁止折叠', 'Number of non-collapsing items': '始终展开的条数',
    'Allow add/delete': '允许增删', 'Show outline': '显示边框', 'Path': '路径', 'Title': '标题',
    'Drag and drop components here to start designing.': '把左侧的组件拖到这里开始设计表单。',
    'Use the library on the left to add components.': '从左侧组件库添加组件。',
    'Build your form': '设计表单', 'Empty form': '空表单', 'Action ': '操作 '
  };
  var FORM_ATTRS = ['title', 'placeholder', 'aria-label'];

  // what form-js itself writes inside a field's preview (never what the owner typed as a label)
  var FIELD_ZH = { 'Select': '请选择', 'Browse': '选择文件', 'No files selected': '未选择文件',
    'Search': '搜索', 'Submit': '提交', 'Reset': '重置' };

  function zhText(s, dict) {
    dict = dict || FORM_ZH;
    var trimmed = s.trim();
    if (!trimmed || !Object.prototype.hasOwnProperty.call(dict, trimmed)) { return null; }
    return s.replace(trimmed, dict[trimmed]);
  }

  function inFieldPreview(el) {
    return el.closest('.fjs-form-field') && !el.closest('.fjs-context-pad') &&
      !el.closest('.fjs-form-field-label, .fjs-form-field-description, label');
  }

  /* form-js's editor has no translation hook for its palette and properties panel: its visible
   * English labels are replaced by the dictionary above as they appear. Field content (what the
   * owner types) never matches a dictionary key exactly unless it is that English word. */
  function translateTree(node) {
    if (node.nodeType === 3) {
      var parent = node.parentNode;
      if (!parent || parent.nodeType !== 1 || parent.isContentEditable) { return; }
      if (parent.closest('.fjs-form-field') && !parent.closest('.fjs-context-pad') && !inFieldPreview(parent)) { return; }
      var t = zhText(node.data, inFieldPreview(parent) ? FIELD_ZH : FORM_ZH);
      if (t !== null && t !== node.data) { node.data = t; }
      return;
    }
    if (node.nodeType !== 1) { return; }
    var dict = inFieldPreview(node) ? FIELD_ZH : FORM_ZH;
    FORM_ATTRS.forEach(function (a) {
      var v = node.getAttribute(a);
      var t = v && zhText(v, dict);
      if (t && t !== v) { node.setAttribute(a, t); }
    });
    var walker = document.createTreeWalker(node, NodeFilter.SHOW_ELEMENT | NodeFilter.SHOW_TEXT);
    var n = walker.nextNode();
    while (n) { if (n !== node) { translateTree(n); } n = walker.nextNode(); }
  }

  function translateFormEditor() {
    translateTree(formBox);
    new MutationObserver(function (mutations) {
      mutations.forEach(function (m) {
        if (m.type === 'characterData') { translateTree(m.target); }
        else if (m.type === 'attributes') { translateTree(m.target); }
        else { m.addedNodes.forEach(function (n) { translateTree(n); }); }
      });
    }).observe(formBox, { subtree: true, childList: true, characterData: true, attributes: true,
      attributeFilter: FORM_ATTRS });
  }

  function formUsers(key) {
    if (!modeler) { return []; }
    return modeler.get('elementRegistry').filter(function (el) {
      return el.type === 'bpmn:UserTask' && el.businessObject.get('camunda:formKey') === key;
    }).map(function (el) { return el.businessObject.name || el.id; });
  }

  /* the process's forms in the order its steps use them, then any others */
  function formOrder() {
    var order = [];
    if (modeler) {
      modeler.get('elementRegistry').filter(function (el) { return el.type === 'bpmn:UserTask'; })
        .forEach(function (el) {
          var key = el.businessObject.get('camunda:formKey');
          if (key && forms[key] && order.indexOf(key) < 0) { order.push(key); }
        });
    }
    Object.keys(forms).sort().forEach(function (k) { if (order.indexOf(k) < 0) { order.push(k); } });
    return order;
  }

  function fillFormSelect() {
    var keys = formOrder();
    formSelect.textContent = '';
    keys.forEach(function (k) {
      var title = (forms[k].properties && forms[k].properties.title) || '';
      formSelect.appendChild(h('option', { value: k, text: title ? title + '（' + k + '）' : k }));
    });
    if (currentFormKey) { formSelect.value = currentFormKey; }
  }

  function stashCurrentForm() {
    if (formEditor && currentFormKey && dirtyForms[currentFormKey]) {
      forms[currentFormKey] = formEditor.saveSchema();
    }
  }

  function ensureFormEditor() {
    if (formEditor) { return Promise.resolve(formEditor); }
    if (!formEditorLoading) {
      formEditorLoading = (window.FormEditor ? Promise.resolve() : loadScript(URLS.formEditor)).then(function () {
        formBox.textContent = '';
        return window.FormEditor.createFormEditor({ container: formBox, schema: { type: 'default', components: [] } });
      }).then(function (editor) {
        formEditor = editor;
        translateFormEditor();
        editor.on('changed', function () {
          if (currentFormKey && !importingForm) {
            dirtyForms[currentFormKey] = true;
            showStatus();
          }
        });
        return editor;
      });
    }
    return formEditorLoading;
  }

  var importingForm = false;

  function pickForm(key) {
    if (!key) { return Promise.resolve(); }
    return ensureFormEditor().then(function (editor) {
      if (key === currentFormKey) { return; }
      stashCurrentForm();
      currentFormKey = key;
      formSelect.value = key;
      var used = formUsers(key);
      formUsedBy.textContent = used.length ? '用于：' + used.join('、') : '流程图中没有用户任务使用此表单';
      importingForm = true;
      return editor.importSchema(JSON.parse(JSON.stringify(forms[key]))).then(function () {
        importingForm = false;
      }, function (err) {
        importingForm = false;
        say('表单 ' + key + ' 无法在编辑器中打开：' + (err && err.message || err), 'error');
      });
    }, function (err) {
      formBox.textContent = '';
      formBox.appendChild(h('p', { 'class': 'field-error', text: '表单编辑器加载失败：' + err.message }));
    });
  }

  function openFormsTab() {
    fillFormSelect();
    if (!Object.keys(forms).length) {
      formBox.textContent = '';
      formBox.appendChild(h('p', { 'class': 'hint', text: '此流程没有表单。' }));
      return;
    }
    pickForm(currentFormKey || formSelect.value || formOrder()[0]);
  }
  formSelect.addEventListener('change', function () { pickForm(formSelect.value); });

  /* ------------------------------------------------------------------ save / validate / deploy */

  function blurPanel() {
    var active = document.activeElement;
    if (active && (panel.contains(active) || formBox.contains(active))) { active.blur(); }
  }

  function payload() {
    blurPanel();
    stashCurrentForm();
    return modeler.saveXML({ format: true }).then(function (result) {
      return { bpmn: result.xml, forms: forms };
    });
  }

  function applyDraft(data, reimport) {
    draft = data;
    catalog = { roles: data.roles || [], operations: data.operations || [], rules: data.rules || [],
      formKeys: data.form_keys || Object.keys(data.forms || {}), notices: data.notice_templates || [],
      assignment: data.assignment || { kinds: [], lanes: {}, departments: [] } };
    document.querySelectorAll('[data-bind="name"]').forEach(function (el) { el.textContent = data.name || data.key; });
    if (data.name) { document.title = data.name + ' · 流程设计'; }
    if (!reimport) { return Promise.resolve(); }
    forms = JSON.parse(JSON.stringify(data.forms || {}));
    dirtyForms = {};
    if (formEditor && currentFormKey) {
      var key = currentFormKey;
      currentFormKey = null;
      if (forms[key]) { pickForm(key); }
    }
    return modeler.importXML(data.bpmn).then(function (result) {
      diagramDirty = false;
      selected = null;
      fit();
      renderPanel();
      if (result.warnings && result.warnings.length) {
        say('流程图已导入，但有 ' + result.warnings.length + ' 处无法识别的内容被忽略：' +
          result.warnings.slice(0, 3).map(function (w) { return w.message; }).join('；'), 'warning');
      }
    });
  }

  function save() {
    setBusy(true);
    say('正在保存草稿…', 'info');
    return payload().then(function (body) {
      return request('PUT', URLS.draft, body);
    }).then(function (result) {
      if (result.ok && result.data) {
        diagramDirty = false;
        dirtyForms = {};
        // forms the diagram names now but the page did not have yet (a task given another form)
        Object.keys(result.data.forms || {}).forEach(function (k) {
          if (!Object.prototype.hasOwnProperty.call(forms, k)) { forms[k] = result.data.forms[k]; }
        });
        return applyDraft(result.data, false).then(function () {
          say('草稿已保存。草稿不影响任何人，部署后才对新案件生效。', 'success');
          return true;
        });
      }
      if (result.status === 422) { showFindings(findingsFromError(result), '草稿未保存'); }
      say(errorMessage(result, '保存失败'), 'error');
      return false;
    }).catch(function (err) {
      say('保存失败：' + err.message, 'error');
      return false;
    }).then(function (ok) { setBusy(false); showStatus(); return ok; });
  }

  function validate() {
    setBusy(true);
    say('正在校验…', 'info');
    return payload().then(function (body) {
      return request('POST', URLS.validate, body);
    }).then(function (result) {
      if (result.ok && result.data) {
        var findings = result.data.findings || [];
        if (result.data.ok && !findings.length) {
          clearFindings();
          say('校验通过：没有发现问题。', 'success');
        } else {
          showFindings(findings);
          say('校验发现 ' + findings.length + ' 处问题，点击列表中的一项可定位到流程图中的元素。', 'error');
        }
        return;
      }
      if (result.status === 422) { showFindings(findingsFromError(result)); }
      say(errorMessage(result, '校验失败'), 'error');
    }).catch(function (err) {
      say('校验失败：' + err.message, 'error');
    }).then(function () { setBusy(false); showStatus(); });
  }

  var dialog = document.getElementById('deploy-dialog');
  var commentBox = document.getElementById('deploy-comment');

  function askDeploy() {
    if (isDirty() && !CAN_EDIT) {
      say('提示：部署的是已保存的草稿，本页未保存的修改不会部署。', 'warning');
    }
    commentBox.value = '';
    if (dialog.showModal) { dialog.showModal(); } else { dialog.setAttribute('open', ''); }
    commentBox.focus();
  }

  function closeDialog() {
    if (dialog.close) { dialog.close(); } else { dialog.removeAttribute('open'); }
  }

  function deploy(comment) {
    setBusy(true);
    var first = (CAN_EDIT && isDirty()) ? save() : Promise.resolve(true);
    return first.then(function (saved) {
      if (!saved) { return; }
      say('正在部署…', 'info');
      return request('POST', URLS.deploy, { comment: comment }).then(function (result) {
        if (result.status === 201 || (result.ok && result.data && result.data.version)) {
          clearFindings();
          say('已部署为第 ' + result.data.version + ' 版。新案件按此版本办理，在办案件仍按原来的版本办结。', 'success');
          return request('GET', URLS.draft).then(function (fresh) {
            if (fresh.ok && fresh.data) { return applyDraft(fresh.data, false); }
          });
        }
        if (result.status === 422) {
          var findings = (result.data && result.data.findings) || findingsFromError(result);
          showFindings(findings, '未部署：发现 ' + findings.length + ' 处问题');
        }
        say(errorMessage(result, '部署失败'), 'error');
      });
    }).catch(function (err) {
      say('部署失败：' + err.message, 'error');
    }).then(function () { setBusy(false); showStatus(); });
  }

  if (buttons.save) { buttons.save.addEventListener('click', save); }
  buttons.validate.addEventListener('click', validate);
  if (buttons.deploy) {
    buttons.deploy.addEventListener('click', askDeploy);
    document.getElementById('deploy-cancel').addEventListener('click', closeDialog);
    document.getElementById('deploy-form').addEventListener('submit', function (e) {
      e.preventDefault();
      var comment = commentBox.value.trim();
      if (!comment) { commentBox.focus(); return; }
      closeDialog();
      deploy(comment);
    });
  }

  /* ------------------------------------------------------------------ canvas toolbar */

  /* like zoom('fit-viewport') but leaves room for the palette on the left; never zooms past 100 % */
  function fit() {
    var canvas = modeler.get('canvas');
    canvas.zoom('fit-viewport', 'auto');
    var vb = canvas.viewbox();
    var inner = vb.inner, outer = vb.outer;
    if (!inner.width || !outer.width) { return; }
    var left = 110, pad = 24;
    var scale = Math.min((outer.width - left - pad) / inner.width, (outer.height - 2 * pad) / inner.height, 1);
    var width = outer.width / scale, height = outer.height / scale;
    var spare = (outer.width - left - pad) / scale - inner.width;
    canvas.viewbox({ x: inner.x - left / scale - Math.max(spare, 0) / 2, y: inner.y - (height - inner.height) / 2,
      width: width, height: height });
  }

  root.querySelector('.canvas-tools').addEventListener('click', function (e) {
    var button = e.target.closest('button[data-action]');
    if (!button || !modeler) { return; }
    var canvas = modeler.get('canvas');
    switch (button.dataset.action) {
      case 'undo': modeler.get('commandStack').undo(); break;
      case 'redo': modeler.get('commandStack').redo(); break;
      case 'zoom-in': canvas.zoom(canvas.zoom() * 1.2); break;
      case 'zoom-out': canvas.zoom(canvas.zoom() / 1.2); break;
      case 'fit': fit(); break;
      case 'export':
        modeler.saveXML({ format: true }).then(function (r) {
          var a = h('a', { href: URL.createObjectURL(new Blob([r.xml], { type: 'application/xml' })),
            download: (draft && draft.key || 'process') + '.bpmn' });
          document.body.appendChild(a); a.click(); a.remove();
        });
        break;
    }
  });

  /* ------------------------------------------------------------------ start */

  function start() {
    if (!window.BpmnJS) {
      statusLine.textContent = '流程设计器未能加载：前端资源未安装（请在项目目录运行 make assets）。';
      return;
    }
    Promise.all([
      fetch(URLS.moddle, { credentials: 'same-origin' }).then(function (r) {
        if (!r.ok) { throw new Error('camunda-bpmn-moddle 未安装（make assets）'); }
        return r.json();
      }),
      request('GET', URLS.draft)
    ]).then(function (answers) {
      var camunda = answers[0], result = answers[1];
      if (!result.ok || !result.data) {
        throw new Error(errorMessage(result, '无法读取流程草稿'));
      }
      modeler = new window.BpmnJS({
        container: '#canvas',
        additionalModules: [{ translate: ['value', translate] }],
        moddleExtensions: { camunda: camunda }
      });
      modeler.on('selection.changed', function (e) {
        selected = e.newSelection.length === 1 ? e.newSelection[0] : null;
        if (selected && (selected.type === 'label')) { selected = selected.labelTarget; }
        if (document.activeElement && panel.contains(document.activeElement)) { document.activeElement.blur(); }
        renderPanel();
      });
      modeler.on('commandStack.changed', function () {
        diagramDirty = true;
        if (selected && !modeler.get('elementRegistry').get(selected.id)) { selected = null; }
        renderPanel();
        showStatus();
      });
      return applyDraft(result.data, true);
    }).then(function () {
      setBusy(false);
      showStatus();
    }).catch(function (err) {
      statusLine.textContent = '加载失败：' + err.message;
      say('加载失败：' + err.message, 'error');
    });
  }

  start();
})();
