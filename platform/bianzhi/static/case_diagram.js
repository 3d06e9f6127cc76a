/* 案件流程图: the case's process version in the bpmn-js NavigatedViewer (window.BpmnJS), with the
 * steps already done, the current step and the flows taken marked. Data from
 * GET /cases/<id>/diagram.json → {"bpmn", "completed": [ids], "current": [ids], "flows": [ids]}. */
(function () {
  'use strict';

  var box = document.getElementById('case-diagram');
  if (!box) { return; }
  var card = box.closest('.case-diagram-card') || box.parentNode;

  var DONE = '#15803d', CURRENT = '#ea580c';

  function fail(text) {
    box.textContent = '';
    var p = document.createElement('p');
    p.className = 'hint';
    p.textContent = text;
    box.appendChild(p);
    box.classList.add('unavailable');
  }

  if (!window.BpmnJS) {
    fail('流程图暂不可用：前端资源未安装（make assets）。');
    return;
  }

  /* shows the whole diagram, never enlarged beyond 100 %, centred */
  function fit(canvas) {
    canvas.zoom('fit-viewport', 'auto');
    var vb = canvas.viewbox();
    if (vb.scale > 1) { canvas.zoom(1, 'auto'); }
  }

  /* colour a flow through its diagram interchange, so that its arrowhead is coloured too */
  function paint(viewer, id, color) {
    var registry = viewer.get('elementRegistry');
    var element = registry.get(id);
    if (!element || !element.di) { return; }
    try {
      element.di.set('color:border-color', color);
      viewer.get('graphicsFactory').update(element.waypoints ? 'connection' : 'shape', element,
        registry.getGraphics(element));
    } catch (e) { /* colours are decoration: the marker classes still show the state */ }
  }

  fetch(box.dataset.diagramUrl, { credentials: 'same-origin', headers: { 'Accept': 'application/json' } })
    .then(function (response) {
      if (!response.ok) { throw new Error(response.status === 404 ? '没有找到本案件的流程图' : '读取失败（HTTP ' + response.status + '）'); }
      return response.json();
    })
    .then(function (data) {
      box.textContent = '';
      var viewer = new window.BpmnJS({ container: box, zoomScroll: { enabled: false } });
      return viewer.importXML(data.bpmn).then(function () {
        var canvas = viewer.get('canvas');
        var registry = viewer.get('elementRegistry');
        var current = data.current || [];
        (data.flows || []).forEach(function (id) {
          if (registry.get(id)) { canvas.addMarker(id, 'flow-taken'); paint(viewer, id, DONE); }
        });
        (data.completed || []).forEach(function (id) {
          if (registry.get(id) && current.indexOf(id) < 0) { canvas.addMarker(id, 'step-done'); }
        });
        current.forEach(function (id) {
          if (registry.get(id)) { canvas.addMarker(id, 'step-current'); }
        });
        fit(canvas);
        box.dataset.ready = '1';

        card.addEventListener('click', function (e) {
          var button = e.target.closest('button[data-zoom]');
          if (!button) { return; }
          var how = button.dataset.zoom;
          if (how === 'fit') { fit(canvas); }
          else { canvas.zoom(canvas.zoom() * (how === 'in' ? 1.25 : 0.8)); }
        });
      });
    })
    .catch(function (err) {
      fail('流程图暂不可用：' + (err && err.message ? err.message : err));
    });
})();
